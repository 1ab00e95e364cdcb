"""Reading JSON that people and integrations send, without silently wrong answers.

Python's `json` keeps the last of two equal keys (`{"9": 3, "9": 0}` reads as `{"9": 0}`),
accepts NaN and Infinity, and reads `1e400` as infinity and a 400-digit integer as a number no
column can hold. `loads` refuses a repeated key and the non-standard constants with a message
naming them, and reads a number too large to be meant (more than 15 digits, or overflowing a
float) as infinity, which every numeric check then refuses with a message naming its field.
Used by the API's parser and by every page that takes JSON text (instrument upload).
"""

from __future__ import annotations

import json

# Integers with more digits than this are never meant in Tandem (days, scores, versions,
# priorities); above 2**53 they would not even survive a round trip through JavaScript.
MAX_DIGITS = 15


class JSONProblem(ValueError):
    """Why the text was refused, in words that name the offending key or value."""


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise JSONProblem(f"The key “{key}” appears more than once in the same object; "
                              "send each key once.")
        found[key] = value
    return found


def _constant(name: str):
    raise JSONProblem(f"{name} is not a number; JSON has no {name}.")


def _int(text: str):
    if len(text.lstrip("-")) > MAX_DIGITS:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def loads(text: str | bytes):
    """`json.loads`, strict as above. Raises JSONProblem (a ValueError) for a repeated key or
    NaN/Infinity, and json.JSONDecodeError (also a ValueError) for text that is not JSON."""
    return json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant,
                      parse_int=_int)
