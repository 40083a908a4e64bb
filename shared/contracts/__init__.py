"""Pydantic contracts shared by the caller and the callee of every inter-service call."""
