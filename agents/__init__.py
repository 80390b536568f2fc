"""Stage agents. ``agents/<stage>/`` holds a stage's math (a pure core: arrays and explicit state in, arrays
and state out; no Kafka, HTTP, SQL, S3 or settings); ``agents/workers/`` holds the thin adapter of each stage
(event in → object-store reads → core → object-store writes → event out); ``agents/runner`` chains the same
cores in one process (`backdrop process`).
"""
