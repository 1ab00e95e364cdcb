"""Figures of the report's "outcomes" section (see core/report.py SECTIONS)."""

from __future__ import annotations

from tandem.reporting.figures.base import Figure

FIGURES: list[Figure] = []
