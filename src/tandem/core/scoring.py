"""Checking answers and scoring an instrument. No Django imports.

`check_answer` turns what someone typed into a stored value or a plain message;
`score` computes every scale (sum, mean or single value; reversed items; the missing-item rule
of the instrument), its band, and the safety rules an answer meets. The rules themselves, and
their sources, are in each instrument's definition file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from tandem.core.instruments import Band, Instrument, Item, SafetyRule, Scale, item_value_range

Answer = int | float | str | bool | None


class AnswerError(ValueError):
    """A plain message for one item, e.g. "Enter a whole number from 0 to 7"."""


def _number_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_answer(item: Item, raw) -> Answer:
    """The value to store for `raw` (from a form field or JSON), or AnswerError.

    An empty answer is None; whether it is allowed is decided at submission (`missing_required`).
    """
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if item.type == "string":
        if not isinstance(raw, str):
            raise AnswerError("Enter text.")
        text = raw.strip()
        if len(text) > 200:
            raise AnswerError("Use 200 characters or fewer.")
        return text
    if item.type == "boolean":
        if isinstance(raw, bool):
            return raw
        words = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
        if isinstance(raw, int | str) and str(raw).strip().lower() in words:
            return words[str(raw).strip().lower()]
        raise AnswerError("Answer yes or no.")
    if isinstance(raw, bool):
        raise AnswerError(_expected(item))
    if item.type == "choice":
        number = _to_number(raw, item)
        for option in item.options:
            if option.value == number:
                return option.value
        raise AnswerError(_expected(item))
    number = _to_number(raw, item)
    if item.type == "integer" and number != int(number):
        raise AnswerError(_expected(item))
    if not (item.min <= number <= item.max):
        raise AnswerError(_expected(item))
    return int(number) if item.type == "integer" else float(number)


def _to_number(raw, item: Item) -> float:
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            raise AnswerError(_expected(item)) from None
    else:
        raise AnswerError(_expected(item))
    if not math.isfinite(number):
        raise AnswerError(_expected(item))
    return number


def _expected(item: Item) -> str:
    if item.type == "choice":
        return "Choose one of the answers given."
    low, high = _number_text(item.min), _number_text(item.max)
    unit = f" {item.unit}" if item.unit else ""
    if item.type == "integer":
        return f"Enter a whole number from {low} to {high}{unit}."
    return f"Enter a number from {low} to {high}{unit}."


def check_answers(instrument: Instrument, raw: dict) -> tuple[dict, dict[str, str]]:
    """Check every answer given. Returns (clean answers, {item id: message}).

    Unknown item ids are reported too, so an integration never loses data silently.
    """
    clean, errors = {}, {}
    for item_id, value in raw.items():
        item = instrument.items_by_id.get(item_id)
        if item is None:
            errors[item_id] = "This instrument has no such question."
            continue
        try:
            clean[item_id] = check_answer(item, value)
        except AnswerError as exc:
            errors[item_id] = str(exc)
    return clean, errors


def missing_required(instrument: Instrument, answers: dict) -> list[str]:
    """Ids of required items without an answer, in question order."""
    return [i.id for i in instrument.items if i.required and answers.get(i.id) is None]


@dataclass(slots=True)  # not frozen: built for every scale of every check-up, so kept cheap
class ScaleScore:
    code: str
    title: str
    value: float | None  # None: too many answers missing for a score
    band: Band | None
    answered: int
    of: int
    prorated: bool = False


@dataclass(slots=True)
class Result:
    scales: dict[str, ScaleScore]
    primary: str
    safety: list[SafetyRule] = field(default_factory=list)

    @property
    def headline(self) -> ScaleScore:
        return self.scales[self.primary]

    def values(self) -> dict[str, float | None]:
        return {code: s.value for code, s in self.scales.items()}


def round_half_up(value: float, places: int = 0) -> float:
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def item_score(item: Item, value, reversed_: bool) -> float:
    number = float(value)  # booleans count as 1 and 0
    if reversed_:
        low, high = item_value_range(item)
        number = low + high - number
    return number


def score_scale(instrument: Instrument, scale: Scale, answers: dict) -> ScaleScore:
    values = []
    for item_id in scale.items:
        value = answers.get(item_id)
        if value is not None:
            values.append(item_score(instrument.item(item_id), value, item_id in scale.reversed))
    n, answered = len(scale.items), len(values)
    missing = n - answered
    prorated = False
    if missing > scale.missing.max_missing or answered == 0:
        total = None
    elif scale.method == "mean":
        total = round_half_up(sum(values) / answered, 1)
        prorated = missing > 0
    elif scale.method == "value":
        total = values[0]
    else:
        total = sum(values)
        if missing:
            total = round_half_up(total * n / answered)
            prorated = True
    if total is not None and total == int(total):
        total = int(total)
    band = band_for(scale, total)
    return ScaleScore(scale.code, scale.title, total, band, answered, n, prorated)


def band_for(scale: Scale, value) -> Band | None:
    if value is None:
        return None
    for band in scale.bands:
        if band.min <= value <= band.max:
            return band
    # A mean or prorated value can fall between two whole-number bands (e.g. 4.5): it belongs
    # to the higher band, matching "a score of 5 or more" style cut-offs.
    above = [b for b in scale.bands if b.min > value]
    return min(above, key=lambda b: b.min) if above else None


def safety_hits(
    instrument: Instrument, answers: dict, extra: list[SafetyRule] = ()
) -> list[SafetyRule]:
    """The safety rules (the instrument's own, plus any a service added) that an answer meets."""
    hits = []
    for rule in [*instrument.safety, *extra]:
        value = answers.get(rule.item)
        if value is not None and not isinstance(value, str) and float(value) >= rule.at_least:
            hits.append(rule)
    return hits


def score(instrument: Instrument, answers: dict, extra_safety: list[SafetyRule] = ()) -> Result:
    """Score clean answers (from `check_answers`)."""
    scales = {s.code: score_scale(instrument, s, answers) for s in instrument.scales}
    return Result(scales, instrument.primary.code, safety_hits(instrument, answers, extra_safety))
