"""Benchmarks of manualbp: ``python -m benchmarks`` (see benchmarks/README.md)."""
