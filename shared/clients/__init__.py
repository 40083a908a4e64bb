"""Typed clients for calling our own services over REST (one long-lived httpx.Client each)."""
