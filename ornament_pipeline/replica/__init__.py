"""A local replica of the three vendor sites, for tests, benchmarks and the demo."""
