"""Benchmarks of the framework against the plain-PyTorch floor and the closed-form limit.

``python -m benchmarks`` (or ``make bench``) runs every figure; see docs/performance.md.
"""
