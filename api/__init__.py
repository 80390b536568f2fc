"""The read-model HTTP API (FastAPI over PostgreSQL) and its Server-Sent Events."""
