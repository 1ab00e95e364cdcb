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

# "I'd rather not say", allowed on a safety question only: stored as this value, never scored,
# and flagged for the care team to ask in person (monitoring.services).
DECLINED = "declined"
DECLINED_LABEL = "I'd rather not say"

# The patient's sex for clinical thresholds (Patient.sex_for_thresholds); "" is not recorded.
SEXES = ("female", "male")


class AnswerError(ValueError):
    """A plain message for one item, e.g. "Enter a whole number from 0 to 7"."""


def _number_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_answer(item: Item, raw, *, declinable: bool = False) -> Answer:
    """The value to store for `raw` (from a form field or JSON), or AnswerError.

    An empty answer is None; whether it is allowed is decided at submission (`missing_required`).
    `declinable`: the item is a safety question, which may be answered DECLINED.
    """
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if declinable and isinstance(raw, str) and raw.strip().lower() == DECLINED:
        return DECLINED
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
    try:
        if isinstance(raw, int | float):
            number = float(raw)  # an int too large for a float raises OverflowError
        elif isinstance(raw, str):
            number = float(raw.strip())
        else:
            raise AnswerError(_expected(item))
    except (ValueError, OverflowError):
        raise AnswerError(_expected(item)) from None
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
            clean[item_id] = check_answer(item, value,
                                          declinable=item_id in instrument.safety_items)
        except AnswerError as exc:
            errors[item_id] = str(exc)
    return clean, errors


def unanswered_safety(instrument: Instrument, answers: dict) -> list[str]:
    """Safety questions with no answer at all (neither a value nor DECLINED)."""
    return [i.id for i in instrument.items
            if i.id in instrument.safety_items and answers.get(i.id) is None]


def declined_safety(instrument: Instrument, answers: dict) -> list[str]:
    """Safety questions the person chose not to answer."""
    return [i.id for i in instrument.items
            if i.id in instrument.safety_items and answers.get(i.id) == DECLINED]


def answer_text(instrument: Instrument, item_id: str, value) -> str:
    """An answer as the person saw it: the option's label, Yes or No, the number with its
    unit, "I'd rather not say"."""
    item = instrument.item(item_id)
    if value is None:
        return "not answered"
    if value == DECLINED:
        return DECLINED_LABEL
    if item.type == "choice":
        return next((o.label for o in item.options if o.value == value), str(value))
    if item.type == "boolean":
        return "Yes" if value else "No"
    return f"{_number_text(value)} {item.unit}".strip()


def inconsistent(instrument: Instrument, answers: dict) -> dict[str, str]:
    """Answers that cannot both be true (the instrument's `checks`), by the item to correct.
    A check is made only once every item it names is answered."""
    errors: dict[str, str] = {}
    for check in instrument.checks:
        values = [answers.get(i) for i in (check.item, *check.of)]
        if any(v is None or isinstance(v, str) for v in values):
            continue
        value, others = float(values[0]), [float(v) for v in values[1:]]
        if check.kind == "at_most_sum":
            wrong = value > sum(others)
        else:  # only_if_any
            wrong = value > 0 and not any(v > 0 for v in others)
        if wrong and check.item not in errors:
            errors[check.item] = check.message.format(
                item=answer_text(instrument, check.item, values[0]),
                total=_number_text(sum(others)))
    return errors


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
    # Set when a safety question went unanswered: the score is not estimated without it.
    safety_missing: bool = False
    # Set when the bands depend on sex and it was not recorded (the lower threshold was used).
    sex_not_recorded: bool = False


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


def score_scale(instrument: Instrument, scale: Scale, answers: dict,
                sex: str | None = None) -> ScaleScore:
    values = []
    safety_missing = False
    for item_id in scale.items:
        value = answers.get(item_id)
        if value is not None and not isinstance(value, str):  # DECLINED counts as missing
            values.append(item_score(instrument.item(item_id), value, item_id in scale.reversed))
        elif item_id in instrument.safety_items:
            safety_missing = True
    n, answered = len(scale.items), len(values)
    missing = n - answered
    prorated = False
    if missing > scale.missing.max_missing or answered == 0 or safety_missing:
        # A safety question is never estimated from the other answers.
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
    band = band_for(scale, total, sex)
    return ScaleScore(scale.code, scale.title, total, band, answered, n, prorated,
                      safety_missing, scale.sex_bands is not None and sex not in SEXES)


def bands_for(scale: Scale, sex: str | None = None) -> list[Band]:
    """The scale's bands; for bands that differ by sex, the patient's, or when sex is not
    recorded the lower threshold's (the female bands), so nobody is under-called."""
    if scale.sex_bands is None:
        return scale.bands
    return scale.sex_bands.male if sex == "male" else scale.sex_bands.female


def band_for(scale: Scale, value, sex: str | None = None) -> Band | None:
    if value is None:
        return None
    bands = bands_for(scale, sex)
    for band in bands:
        if band.min <= value <= band.max:
            return band
    # A mean or prorated value can fall between two whole-number bands (e.g. 4.5): it belongs
    # to the higher band, matching "a score of 5 or more" style cut-offs.
    above = [b for b in bands if b.min > value]
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


def score(instrument: Instrument, answers: dict, extra_safety: list[SafetyRule] = (),
          sex: str | None = None) -> Result:
    """Score clean answers (from `check_answers`); `sex` for bands that differ by sex."""
    scales = {s.code: score_scale(instrument, s, answers, sex) for s in instrument.scales}
    return Result(scales, instrument.primary.code, safety_hits(instrument, answers, extra_safety))
