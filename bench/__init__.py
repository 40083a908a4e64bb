"""Benchmarks: `make bench`. Each prints its figures and writes bench/results/<name>.json."""
