"""The expert database (评标专家库): specialties code list and expert records."""
