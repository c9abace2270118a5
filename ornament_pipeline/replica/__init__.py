"""A local replica of the three vendor sites, for tests, benchmarks and the demo (see README.md)."""

from ornament_pipeline.replica.clock import truth

__all__ = ["truth"]
