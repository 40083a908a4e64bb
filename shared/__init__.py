"""The platform's own library: what every service of 一网三平台 imports."""
