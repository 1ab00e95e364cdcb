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
    model_config = ConfigDict(extra="forbid", frozen=True)


class Licence(Strict):
    """Whether and how the instrument may be redistributed, and where that is stated."""

    terms: Text
    source: Text


class Option(Strict):
    value: Number
    label: Text
    loinc: str = ""  # LOINC answer code (LA…), where one exists


class Item(Strict):
    id: Code
    text: Text
    type: Literal["choice", "integer", "decimal", "boolean", "string"]
    options: list[Option] = []  # for "choice"
    min: Number | None = None  # for "integer" and "decimal"
    max: Number | None = None
    unit: str = ""
    required: bool = True
    help: str = ""
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
    reliable_change: ReliableChange | None = None
    primary: bool = False  # the headline score for this instrument
    loinc: str = ""
    unit: str = ""


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
    preamble: str = ""
    loinc: str = ""
    licence: Licence
    citation: Text  # the published source of the items and their wording
    items: list[Item] = Field(min_length=1)
    scales: list[Scale] = Field(min_length=1)
    safety: list[SafetyRule] = []

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

    @property
    def primary(self) -> Scale:
        return next((s for s in self.scales if s.primary), self.scales[0])

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
    listing every problem. Nothing is partially accepted."""
    if not isinstance(data, dict):
        raise DefinitionError(["(top level): must be an object"])
    try:
        instrument = Instrument.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            # Pydantic names union branches in the location (e.g. "int", "float"); drop them.
            loc = [p for p in error["loc"] if p not in {"int", "float"}]
            problems.append(f"{path(loc)}: {_message(error)}")
        raise DefinitionError(list(dict.fromkeys(problems))) from None
    problems = cross_reference_problems(instrument)
    if problems:
        raise DefinitionError(problems)
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


def cross_reference_problems(ins: Instrument) -> list[str]:
    problems = []
    seen: dict[str, int] = {}
    for i, item in enumerate(ins.items):
        where = f"items[{i}]"
        if item.id in seen:
            problems.append(f"{where}.id: '{item.id}' is also used by items[{seen[item.id]}]")
        seen.setdefault(item.id, i)
        if item.type == "choice":
            if len(item.options) < 2:
                problems.append(f"{where}.options: a choice item needs at least two options")
            values = [o.value for o in item.options]
            for j, value in enumerate(values):
                if value in values[:j]:
                    problems.append(f"{where}.options[{j}].value: {value} is used twice")
        elif item.options:
            problems.append(f"{where}.options: only choice items have options")
        if item.type in ("integer", "decimal"):
            if item.min is None:
                problems.append(f"{where}.min: missing (a number item needs a lowest value)")
            if item.max is None:
                problems.append(f"{where}.max: missing (a number item needs a highest value)")
            if item.min is not None and item.max is not None and item.min >= item.max:
                problems.append(f"{where}.max: must be greater than min ({item.min})")
    scale_codes: dict[str, int] = {}
    for i, scale in enumerate(ins.scales):
        where = f"scales[{i}]"
        if scale.code in scale_codes:
            problems.append(
                f"{where}.code: '{scale.code}' is also used by scales[{scale_codes[scale.code]}]"
            )
        scale_codes.setdefault(scale.code, i)
        for j, item_id in enumerate(scale.items):
            item = ins.items_by_id.get(item_id)
            if item is None:
                problems.append(f"{where}.items[{j}]: no item has the id '{item_id}'")
            elif item_value_range(item) is None:
                problems.append(f"{where}.items[{j}]: '{item_id}' has no numeric value to score")
        for j, item_id in enumerate(scale.reversed):
            if item_id not in scale.items:
                problems.append(
                    f"{where}.reversed[{j}]: '{item_id}' is not one of the scale's items"
                )
        if scale.method == "value" and len(scale.items) != 1:
            problems.append(f"{where}.items: method 'value' takes exactly one item")
        if scale.missing.max_missing >= len(scale.items):
            problems.append(f"{where}.missing.max_missing: must be fewer than the scale's items")
        if scale.missing.max_missing and scale.missing.method == "none":
            problems.append(f"{where}.missing.method: say how missing answers are filled")
        low, high = scale.range
        if low >= high:
            problems.append(f"{where}.range: the first number must be lower than the second")
        ordered = sorted(enumerate(scale.bands), key=lambda b: b[1].min)
        for (_, before), (j, band) in zip(ordered, ordered[1:], strict=False):
            if band.min <= before.max:
                problems.append(f"{where}.bands[{j}].min: overlaps the band '{before.label}'")
        for j, band in enumerate(scale.bands):
            if band.min > band.max:
                problems.append(f"{where}.bands[{j}].max: must not be below min")
            if band.min < low or band.max > high:
                problems.append(f"{where}.bands[{j}]: lies outside the scale's range")
        if scale.bands and not scale.bands_citation:
            problems.append(f"{where}.bands_citation: missing (every band needs its source)")
    if sum(1 for s in ins.scales if s.primary) > 1:
        problems.append("scales: only one scale can be primary")
    for i, rule in enumerate(ins.safety):
        if rule.item not in ins.items_by_id:
            problems.append(f"safety[{i}].item: no item has the id '{rule.item}'")
    return problems
