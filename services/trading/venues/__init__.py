"""Venues (场地): opening halls, evaluation rooms and remote-evaluation sub-venues of each platform."""
