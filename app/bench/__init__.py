"""Benchmarks (``yizhan bench …``): commands that print one JSON object of measured numbers."""
