"""Benchmarks (DESIGN section 8): `python -m bench` runs them all against the naive baseline (bench/run.py)."""
