"""Benchmarks against the real local stack; each writes benchmarks/results/<name>.json."""
