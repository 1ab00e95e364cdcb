"""Instrument definitions: the data format, and its validation with every problem named by path.

An instrument is one JSON file (shipped in `tandem/assessment/instruments/`, or uploaded by a
service admin). Its shape follows FHIR R4 Questionnaire closely enough to map 1:1:
code → Questionnaire.name/url, title, version, items → item[] (linkId, text, type
choice|integer|decimal|boolean|string, answerOption valueCoding with ordinalValue), LOINC codes →
Questionnaire.code / item.code. Scoring, bands, reliable-change figures and safety rules are
Tandem's own (FHIR SDC would carry them as extensions).

Structure is checked by pydantic (a maintained validation library, already used by the API);
cross-references (a scale naming an item that does not exist, bands that overlap) are checked
here. `parse` returns an `Instrument` or raises `DefinitionError` holding every problem as
"items[3].options[2].value: missing". No Django imports.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Text = Annotated[str, Field(min_length=1)]
Number = int | float


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Licence(Strict):
    """Whether and how the instrument may be redistributed, and where that is stated."""

    terms: Text
    source: Text


class Option(Strict):
    value: Number
    label: Text
    loinc: str = ""  # LOINC answer code (LA…), where one exists


ITEM_TYPES = ("choice", "integer", "decimal", "boolean", "string")


class Item(Strict):
    id: Code
    text: Text
    type: Literal["choice", "integer", "decimal", "boolean", "string"]
    options: list[Option] = []  # for "choice"
    min: Number | None = None  # for "integer" and "decimal"
    max: Number | None = None
    unit: str = ""
    required: bool = True
    help: str = ""  # shown to everyone who answers
    interviewer_help: str = ""  # shown to staff only (e.g. a skip rule for an interviewer)
    loinc: str = ""
    section: str = ""  # a heading shown above the item (e.g. "Alcohol")


class Band(Strict):
    min: Number
    max: Number
    label: Text
    # 0 is the best band; higher numbers need more attention (used for shading and flags).
    level: int = Field(ge=0, le=4)


class ReliableChange(Strict):
    """Figures for the Jacobson & Truax reliable change index on this scale."""

    sd: float = Field(gt=0)  # standard deviation of a reference (usually clinical) sample
    reliability: float = Field(gt=0, lt=1)  # test-retest or internal consistency
    citation: Text  # the full source, with any working (kept in the file and docs/)
    short: str = ""  # a one-line citation for the page


class SexBands(Strict):
    """Bands that differ by the patient's sex for clinical thresholds (e.g. AUDIT-C). When it
    is not recorded, the `female` bands (the lower threshold) are used, and the page says so."""

    female: list[Band] = Field(min_length=1)
    male: list[Band] = Field(min_length=1)
    citation: Text

    @field_validator("female", "male")
    @classmethod
    def _apart(cls, bands: list[Band]) -> list[Band]:
        ordered = sorted(bands, key=lambda b: b.min)
        for before, band in zip(ordered, ordered[1:], strict=False):
            if band.min <= before.max:
                raise ValueError(f"the band '{band.label}' overlaps '{before.label}'")
        return bands


class Severe(Strict):
    """The most severe band: a score of at least `at_least` raises a high flag even with no
    earlier check-up to compare (core.flags, rule "severe-score")."""

    at_least: Number
    label: Text  # plain words for the care team, e.g. "severe depression"
    citation: Text


class Missing(Strict):
    """How many answers may be missing before no score is given, and how to fill the gap.

    "prorate": the sum of the answered items × (number of items / number answered), rounded
    to the nearest whole number (half up). "none": the score needs every item.
    """

    max_missing: int = Field(0, ge=0)
    method: Literal["prorate", "none"] = "none"
    citation: str = ""


class Scale(Strict):
    code: Code
    title: Text
    method: Literal["sum", "mean", "value"] = "sum"  # "value": the single item's own value
    items: list[Code] = Field(min_length=1)
    reversed: list[Code] = []  # scored as (min + max) − value over the item's option values
    missing: Missing = Missing()
    range: tuple[Number, Number]
    higher_is: Literal["worse", "better"]
    bands: list[Band] = []
    bands_citation: str = ""
    sex_bands: SexBands | None = None  # used instead of `bands` where thresholds differ by sex
    severe: Severe | None = None
    reliable_change: ReliableChange | None = None
    primary: bool = False  # the headline score for this instrument
    loinc: str = ""
    unit: str = ""


class Check(Strict):
    """Answers that cannot both be true, checked whenever all the items named are answered.

    "at_most_sum": `item` cannot be more than the sum of the `of` items (e.g. days injecting in
    a week cannot exceed the days of using any drug that week). "only_if_any": `item` answered
    yes (or above 0) needs at least one of the `of` items above 0 (e.g. sharing needles needs
    some injecting)."""

    kind: Literal["at_most_sum", "only_if_any"]
    item: Code
    of: list[Code] = Field(min_length=1)
    message: Text  # {item}: the answer to `item`; {total}: the sum of the `of` answers


class SafetyRule(Strict):
    """An answer that needs same-day attention: the item's value is at least `at_least`."""

    item: Code
    at_least: Number
    message: Text  # plain words for the care team: what was answered
    citation: Text


class Instrument(Strict):
    code: Code
    title: Text
    short_title: str = ""
    version: Text
    description: str = ""
    recall_period: str = ""
    preamble: str = ""  # shown to everyone who answers, so in words for the patient
    interviewer_note: str = ""  # shown to staff entering answers only
    # A profile of separate figures (e.g. the TOP-style outcomes profile): no single "score"
    # is shown to the patient.
    profile: bool = False
    loinc: str = ""
    licence: Licence
    citation: Text  # the published source of the items and their wording
    items: list[Item] = Field(min_length=1)
    scales: list[Scale] = Field(min_length=1)
    safety: list[SafetyRule] = []
    checks: list[Check] = []

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if len(value) > 20:
            raise ValueError("at most 20 characters")
        return value

    # --- conveniences -------------------------------------------------------------------

    def item(self, item_id: str) -> Item:
        return self.items_by_id[item_id]

    @cached_property
    def items_by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    @cached_property
    def primary(self) -> Scale:
        return next((s for s in self.scales if s.primary), self.scales[0])

    @cached_property
    def safety_items(self) -> frozenset[str]:
        """Items with a safety rule: never estimated from other answers, and a person may say
        they would rather not answer (which is flagged for the care team to ask in person)."""
        return frozenset(rule.item for rule in self.safety)

    def scale(self, code: str) -> Scale:
        return next(s for s in self.scales if s.code == code)

    @property
    def name(self) -> str:
        return self.short_title or self.title


class DefinitionError(ValueError):
    """Every problem found in a definition, each as "path: message"."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def path(loc) -> str:
    """('items', 3, 'options', 2, 'value') → 'items[3].options[2].value'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        return "not a known field"
    message = error["msg"]
    return message[len("Value error, ") :] if message.startswith("Value error, ") else message


def parse(data) -> Instrument:
    """Validate a decoded definition (a dict) and return the Instrument, or raise DefinitionError
    listing every problem, structural and cross-reference alike. Nothing is partially accepted."""
    if not isinstance(data, dict):
        raise DefinitionError(["(top level): must be an object"])
    problems: list[str] = []
    instrument = None
    try:
        instrument = Instrument.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            # Pydantic names union branches in the location (e.g. "int", "float"); drop them.
            loc = [p for p in error["loc"] if p not in {"int", "float"}]
            problems.append(f"{path(loc)}: {_message(error)}")
    problems += cross_reference_problems(data)
    if problems:
        raise DefinitionError(list(dict.fromkeys(problems)))
    return instrument


def item_value_range(item: Item) -> tuple[Number, Number] | None:
    """The lowest and highest value an item can take, or None for free text."""
    if item.type == "choice":
        values = [o.value for o in item.options]
        return (min(values), max(values)) if values else None
    if item.type == "boolean":
        return (0, 1)
    if item.type in ("integer", "decimal"):
        return (item.min, item.max) if item.min is not None and item.max is not None else None
    return None


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dicts(value) -> list[tuple[int, dict]]:
    return [(i, v) for i, v in enumerate(_list(value)) if isinstance(v, dict)]


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _values(item: dict) -> list:
    return [o.get("value") for _, o in _dicts(item.get("options")) if _number(o.get("value"))]


def _scorable(item: dict) -> bool:
    kind = item.get("type")
    if kind == "choice":
        return bool(_values(item))
    if kind in ("integer", "decimal"):
        return _number(item.get("min")) and _number(item.get("max"))
    return kind not in ITEM_TYPES or kind == "boolean"  # a wrong type is reported already


def cross_reference_problems(data: dict) -> list[str]:
    """Problems between parts of a definition, checked on the raw data so that they are
    reported together with any structural ones (missing fields, wrong types)."""
    problems = []
    items: dict[str, dict] = {}
    for i, item in _dicts(data.get("items")):
        where, item_id = f"items[{i}]", item.get("id")
        if isinstance(item_id, str):
            if item_id in items:
                problems.append(f"{where}.id: '{item_id}' is used by an earlier item")
            items.setdefault(item_id, item)
        kind = item.get("type")
        if kind == "choice":
            options = _list(item.get("options"))
            if len(options) < 2:
                problems.append(f"{where}.options: a choice item needs at least two options")
            seen_values = []
            for j, option in _dicts(options):
                value = option.get("value")
                if _number(value) and value in seen_values:
                    problems.append(f"{where}.options[{j}].value: {value} is used twice")
                seen_values.append(value)
        elif item.get("options") and kind in ITEM_TYPES:  # (a wrong type is reported already)
            problems.append(f"{where}.options: only choice items have options")
        if kind in ("integer", "decimal"):
            low, high = item.get("min"), item.get("max")
            if low is None:
                problems.append(f"{where}.min: missing (a number item needs a lowest value)")
            if high is None:
                problems.append(f"{where}.max: missing (a number item needs a highest value)")
            if _number(low) and _number(high) and low >= high:
                problems.append(f"{where}.max: must be greater than min ({low})")
    codes: dict[str, int] = {}
    primaries = 0
    for i, scale in _dicts(data.get("scales")):
        where = f"scales[{i}]"
        code = scale.get("code")
        if isinstance(code, str):
            if code in codes:
                problems.append(f"{where}.code: '{code}' is also used by scales[{codes[code]}]")
            codes.setdefault(code, i)
        primaries += scale.get("primary") is True
        scale_items = _list(scale.get("items"))
        for j, item_id in enumerate(scale_items):
            if not isinstance(item_id, str):
                continue
            if item_id not in items:
                problems.append(f"{where}.items[{j}]: no item has the id '{item_id}'")
            elif not _scorable(items[item_id]):
                problems.append(f"{where}.items[{j}]: '{item_id}' has no numeric value to score")
        for j, item_id in enumerate(_list(scale.get("reversed"))):
            if item_id not in scale_items:
                problems.append(
                    f"{where}.reversed[{j}]: '{item_id}' is not one of the scale's items"
                )
        if scale.get("method") == "value" and len(scale_items) != 1:
            problems.append(f"{where}.items: method 'value' takes exactly one item")
        missing = scale.get("missing") if isinstance(scale.get("missing"), dict) else {}
        max_missing = missing.get("max_missing", 0)
        if isinstance(max_missing, int) and scale_items and max_missing >= len(scale_items):
            problems.append(f"{where}.missing.max_missing: must be fewer than the scale's items")
        if max_missing and missing.get("method", "none") == "none":
            problems.append(f"{where}.missing.method: say how missing answers are filled")
        rng = _list(scale.get("range"))
        low, high = (rng + [None, None])[:2]
        if _number(low) and _number(high) and low >= high:
            problems.append(f"{where}.range: the first number must be lower than the second")
        bands = [
            (j, b)
            for j, b in _dicts(scale.get("bands"))
            if _number(b.get("min")) and _number(b.get("max"))
        ]
        ordered = sorted(bands, key=lambda jb: jb[1]["min"])
        for (_, before), (j, band) in zip(ordered, ordered[1:], strict=False):
            if band["min"] <= before["max"]:
                problems.append(
                    f"{where}.bands[{j}].min: overlaps the band '{before.get('label')}'"
                )
        for j, band in bands:
            if band["min"] > band["max"]:
                problems.append(f"{where}.bands[{j}].max: must not be below min")
            if _number(low) and _number(high) and (band["min"] < low or band["max"] > high):
                problems.append(f"{where}.bands[{j}]: lies outside the scale's range")
        if _list(scale.get("bands")) and not scale.get("bands_citation"):
            problems.append(f"{where}.bands_citation: missing (every band needs its source)")
    if primaries > 1:
        problems.append("scales: only one scale can be primary")
    for i, rule in _dicts(data.get("safety")):
        if isinstance(rule.get("item"), str) and rule["item"] not in items:
            problems.append(f"safety[{i}].item: no item has the id '{rule['item']}'")
        elif isinstance(rule.get("item"), str) and items[rule["item"]].get("required") is False:
            problems.append(f"safety[{i}].item: '{rule['item']}' is a safety question, so it "
                            "must be required (a person may still say they would rather not)")
    for i, check in _dicts(data.get("checks")):
        named = [("item", check.get("item"))] + [(f"of[{j}]", x)
                                                 for j, x in enumerate(_list(check.get("of")))]
        for where, item_id in named:
            if isinstance(item_id, str) and item_id not in items:
                problems.append(f"checks[{i}].{where}: no item has the id '{item_id}'")
    return problems
