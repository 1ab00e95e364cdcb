"""Tandem's pure domain logic. Nothing in this package may import Django."""
