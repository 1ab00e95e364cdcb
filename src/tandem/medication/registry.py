"""The medicines Tandem knows: one JSON file each beside this module (sources in each file)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tandem.core.medicines import Medicine, parse

MEDICINES_DIR = Path(__file__).resolve().parent / "medicines"


@functools.cache
def medicines() -> dict[str, Medicine]:
    """Every shipped medicine by code, validated once per process."""
    found = {}
    for path in sorted(MEDICINES_DIR.glob("*.json")):
        medicine = parse(json.loads(path.read_text(encoding="utf-8")))
        found[medicine.code] = medicine
    return found


def get(code: str) -> Medicine | None:
    return medicines().get(code)
