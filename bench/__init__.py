"""Benchmarks behind `backdrop bench`: `process` against its floor, the pipeline, the API."""
