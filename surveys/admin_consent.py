"""Admin of information notices and eligibility rules (see surveys/admin.py)."""
