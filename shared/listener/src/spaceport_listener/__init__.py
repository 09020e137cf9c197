"""Spaceport's Python listener SDK (being built)."""
