"""Reading JSON that people and integrations send, without silently wrong answers.

Python's `json` keeps the last of two equal keys (`{"9": 3, "9": 0}` reads as `{"9": 0}`),
accepts NaN and Infinity, and reads `1e400` as infinity and a 400-digit integer as a number no
column can hold. `loads` refuses a repeated key and the non-standard constants with a message
naming them, and reads a number too large to be meant (more than 15 digits, or overflowing a
float) as infinity, which every numeric check then refuses with a message naming its field.
Asked to (`refuse_nul`, as the API does), it refuses a NUL character in any string or key,
naming its place: PostgreSQL can neither store nor compare such text.
Used by the API's parser and by every page that takes JSON text (instrument upload).
"""

from __future__ import annotations

import json

# Integers with more digits than this are never meant in Tandem (days, scores, versions,
# priorities); above 2**53 they would not even survive a round trip through JavaScript.
MAX_DIGITS = 15


class JSONProblem(ValueError):
    """Why the text was refused, in words that name the offending key or value; `loc` is the
    place of the value in the document (keys and list positions) where it is known."""

    def __init__(self, message: str, loc: tuple = ()):
        super().__init__(message)
        self.loc = loc


class NulProblem(JSONProblem):
    """A string or key holds a NUL character (only raised with `refuse_nul`)."""


NUL = "\x00"


def _nul_at(value, loc: tuple = ()) -> tuple | None:
    """The place of the first string (or key) holding a NUL character, or None. PostgreSQL
    can neither store nor compare text with NUL, and no person means one."""
    if isinstance(value, str):
        return loc if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return loc
            found = _nul_at(item, (*loc, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = _nul_at(item, (*loc, n))
            if found is not None:
                return found
    return None


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


def loads(text: str | bytes, *, refuse_nul: bool = False):
    """`json.loads`, strict as above. Raises JSONProblem (a ValueError) for a repeated key or
    NaN/Infinity, and with `refuse_nul` for a NUL character in a string or key (with its
    place); json.JSONDecodeError (also a ValueError) for text that is not JSON."""
    value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant,
                       parse_int=_int)
    loc = _nul_at(value) if refuse_nul else None
    if loc is not None:
        raise NulProblem("Text here holds a NUL character (\\u0000), which is never part of "
                          "valid text: remove it.", loc)
    return value
