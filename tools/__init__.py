"""Developer tooling: embedded database, platform runner, demo seed."""
