"""Versioned event models; imports only pydantic and the standard library."""
