"""Kafka plumbing: topic declarations, provisioning and (later) the stream apps."""
