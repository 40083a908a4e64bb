"""Certificate-login trust tests."""
