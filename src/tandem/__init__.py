"""Tandem: recovery care planning for drug and alcohol treatment services."""

__version__ = "0.1.0"
