"""Benchmarks: `python -m bench` (or `make bench`) prints a table and writes docs/benchmarks.md."""
