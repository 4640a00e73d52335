"""Persistence: the saved form of pools and sessions, and where it is stored."""
