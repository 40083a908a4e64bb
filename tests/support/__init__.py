"""Shared test helpers that are not fixtures."""
