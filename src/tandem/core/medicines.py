"""Medicine definitions: the data format of one medicine file, validated with every problem named.

Each medicine Tandem knows is one JSON file in `tandem/medication/medicines/`. The file gives the
medicine's unit and forms and the published limits Tandem enforces on every medication plan,
each limit with its source (UK guidelines on clinical management of drug misuse and dependence,
the product's SmPC, the BNF). Where sources differ the file holds the stricter figure and says
so in the limit's `source`. A service may tighten these limits on a plan, never loosen them
(`tandem.core.dosing.plan_problems`).

Tandem is not a prescribing system: these limits bound the medication plan a prescriber,
keyworker and patient agree; they are not a prescription. No Django imports.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Text = Annotated[str, Field(min_length=1)]
Dose = Annotated[Decimal, Field(ge=0, le=10000, max_digits=7, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Figure(Strict):
    """One published figure and where it is published."""

    value: Dose
    source: Text


class Range(Strict):
    low: Dose
    high: Dose
    source: Text


class Titration(Strict):
    """Limits on rises early in treatment (from the start or a restart)."""

    days: int = Field(ge=1, le=90)  # how long after the start these apply
    max_rise_per_day: Dose
    max_rise_per_week: Dose
    source: Text


class Limits(Strict):
    # The licensed (or guideline) most in one day, or in one dose for a fixed-dose product.
    daily_max: Figure
    # Not started or restarted above this.
    start_max: Figure | None = None
    # The usual maintenance range: going above its top needs a recorded reason.
    usual_maintenance: Range | None = None
    titration: Titration | None = None
    # At or above this daily dose, the date of the last ECG is asked for (QT prolongation).
    ecg_at_or_above: Figure | None = None
    # The smallest change a pharmacy can measure (e.g. 1 mg of a 1 mg/ml solution).
    step: Figure


class Medicine(Strict):
    code: Code
    name: Text  # as staff and patients see it, e.g. "Methadone oral solution 1 mg/ml"
    generic: Text  # e.g. "methadone"
    treats: Literal["opioids", "alcohol"]
    unit: Literal["mg"]
    forms: list[Text] = Field(min_length=1)
    route: Text
    # Days one dose covers: 1 for a daily medicine, 7 or 28 for a prolonged-release injection.
    period_days: int = Field(ge=1, le=31)
    # Only these doses exist (e.g. the injection's strengths); empty: any multiple of `step`.
    fixed_doses: list[Dose] = []
    given_by_professional: bool = False
    # Whether a prescriber may let the patient set their own dose within a plan's limits.
    self_setting: bool
    # Whether Tandem holds a dose and its steps for it (false: a record of the medicine only).
    substitute: bool
    limits: Limits
    notes: str = ""  # anything a prescriber should know, in one or two sentences, with source
    references: list[Text] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self):
        lim = self.limits
        if lim.start_max and lim.start_max.value > lim.daily_max.value:
            raise ValueError("limits.start_max is above limits.daily_max")
        if lim.usual_maintenance and lim.usual_maintenance.high > lim.daily_max.value:
            raise ValueError("limits.usual_maintenance.high is above limits.daily_max")
        if lim.usual_maintenance and lim.usual_maintenance.low > lim.usual_maintenance.high:
            raise ValueError("limits.usual_maintenance: low is above high")
        if any(d > lim.daily_max.value for d in self.fixed_doses):
            raise ValueError("a fixed dose is above limits.daily_max")
        if self.self_setting and (self.given_by_professional or not self.substitute):
            raise ValueError("self_setting needs a substitute medicine the patient takes")
        return self


class DefinitionError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def parse(data: object) -> Medicine:
    """A validated Medicine, or DefinitionError naming each problem by its path."""
    try:
        return Medicine.model_validate(data)
    except ValidationError as e:
        raise DefinitionError([
            ".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in e.errors()
        ]) from None
