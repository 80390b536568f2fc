"""Fetch, build, start and stop the real servers Backdrop runs on: Kafka, PostgreSQL, Redis, MinIO."""
