"""Complaints (投诉) against a lot, handled by supervisors with the law's deadlines."""
