"""Benchmarks of tinygrad_drop against PyTorch CPU and hand-written NumPy."""
