"""supervision service."""
