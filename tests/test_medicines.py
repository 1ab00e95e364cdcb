"""The shipped medicine files: each parses, each limit names its source, the published figures
Tandem enforces are the ones checked (docs/medicines.md), and a broken file is refused by path."""

import copy
import json
from decimal import Decimal

import pytest

from tandem.core.medicines import DefinitionError, Figure, Medicine, Range, Titration, parse
from tandem.medication import registry

OPIOID_SUBSTITUTES = {
    "methadone",
    "buprenorphine",
    "buprenorphine-naloxone",
    "buprenorphine-injection-weekly",
    "buprenorphine-injection-monthly",
}
ALCOHOL = {"acamprosate", "naltrexone", "nalmefene", "disulfiram"}


def raw(code):
    return json.loads((registry.MEDICINES_DIR / f"{code}.json").read_text(encoding="utf-8"))


def problems(data):
    with pytest.raises(DefinitionError) as caught:
        parse(data)
    return caught.value.problems


def sourced_parts(medicine: Medicine):
    """Every Figure, Range and Titration in a medicine's limits, with its field name."""
    for name in type(medicine.limits).model_fields:
        part = getattr(medicine.limits, name)
        if part is not None:
            assert isinstance(part, Figure | Range | Titration), name
            yield name, part


def test_every_file_parses_and_is_named_by_its_code():
    shipped = registry.medicines()
    assert set(shipped) == OPIOID_SUBSTITUTES | ALCOHOL
    files = {p.stem for p in registry.MEDICINES_DIR.glob("*.json")}
    assert files == set(shipped)
    for code, medicine in shipped.items():
        assert medicine.code == code
        assert parse(medicine.model_dump(mode="json")) == medicine


def test_every_limit_names_its_source_and_every_file_its_references():
    for code, medicine in registry.medicines().items():
        names = [name for name, _ in sourced_parts(medicine)]
        assert "daily_max" in names and "step" in names, code
        for name, part in sourced_parts(medicine):
            assert part.source.strip(), (code, name)
            assert len(part.source) > 40, (code, name)  # a citation, not a placeholder
        assert medicine.references and all(r.strip() for r in medicine.references), code


def test_every_limit_is_a_dose_the_pharmacy_can_measure():
    """Each figure is a whole number of steps, so no limit sits between two measurable doses."""
    for code, medicine in registry.medicines().items():
        lim = medicine.limits
        step = lim.step.value
        values = [lim.daily_max.value, *medicine.fixed_doses]
        for fig in (lim.start_max, lim.ecg_at_or_above):
            if fig:
                values.append(fig.value)
        if lim.usual_maintenance:
            values += [lim.usual_maintenance.low, lim.usual_maintenance.high]
        if lim.titration:
            values += [lim.titration.max_rise_per_day, lim.titration.max_rise_per_week]
        for value in values:
            assert value % step == 0, (code, value, step)


def test_methadone_figures():
    m = registry.get("methadone")
    lim = m.limits
    assert (m.treats, m.period_days, m.substitute, m.self_setting) == ("opioids", 1, True, True)
    assert m.given_by_professional is False and m.fixed_doses == []
    assert lim.start_max.value == 30
    assert lim.ecg_at_or_above.value == 100
    assert (lim.usual_maintenance.low, lim.usual_maintenance.high) == (60, 120)
    assert lim.titration.days == 14
    assert (lim.titration.max_rise_per_day, lim.titration.max_rise_per_week) == (10, 30)
    assert lim.step.value == 1
    # No licensed maximum: the ceiling is a labelled Tandem choice above the usual range.
    assert lim.daily_max.value == 150
    assert "No licensed maximum" in lim.daily_max.source
    assert "Tandem ceiling" in lim.daily_max.source


def test_buprenorphine_keeps_the_uk_24_mg_maximum():
    for code in ("buprenorphine", "buprenorphine-naloxone"):
        m = registry.get(code)
        assert m.limits.daily_max.value == 24, code
        assert "32 mg" in m.limits.daily_max.source  # the looser figure is named and declined
        assert m.limits.start_max.value == 4, code
        assert (m.limits.usual_maintenance.low, m.limits.usual_maintenance.high) == (12, 16)
        assert m.self_setting and m.substitute and m.period_days == 1
    assert registry.get("buprenorphine").limits.step.value == Decimal("0.4")
    assert registry.get("buprenorphine-naloxone").limits.step.value == 2


def test_injections_are_fixed_doses_given_by_a_professional():
    expected = {
        "buprenorphine-injection-weekly": (7, [8, 16, 24, 32], 32, 16),
        "buprenorphine-injection-monthly": (28, [64, 96, 128, 160], 160, 64),
    }
    for code, (period, doses, most, start) in expected.items():
        m = registry.get(code)
        assert m.period_days == period, code
        assert m.fixed_doses == [Decimal(d) for d in doses], code
        assert m.limits.daily_max.value == most == max(m.fixed_doses), code
        assert m.limits.start_max.value == start, code
        assert m.given_by_professional is True and m.self_setting is False and m.substitute is True


def test_alcohol_medicines_are_records_only():
    expected_max = {"acamprosate": 1998, "naltrexone": 50, "nalmefene": 18, "disulfiram": 800}
    for code, most in expected_max.items():
        m = registry.get(code)
        assert m.treats == "alcohol", code
        assert m.substitute is False and m.self_setting is False, code
        assert m.limits.daily_max.value == most, code
        assert m.limits.titration is None and m.limits.ecg_at_or_above is None, code
    assert registry.get("acamprosate").limits.step.value == 333
    disulfiram = registry.get("disulfiram").limits.usual_maintenance
    assert (disulfiram.low, disulfiram.high) == (100, 200)


def test_start_above_the_daily_maximum_is_refused():
    data = raw("methadone")
    data["limits"]["start_max"]["value"] = 151
    found = problems(data)
    assert len(found) == 1 and "limits.start_max is above limits.daily_max" in found[0]


def test_a_missing_or_empty_source_is_refused_by_its_path():
    data = raw("buprenorphine")
    del data["limits"]["daily_max"]["source"]
    data["limits"]["titration"]["source"] = ""
    data["limits"]["usual_maintenance"]["source"] = ""
    found = problems(data)
    assert [p.split(":")[0] for p in found] == [
        "limits.daily_max.source",
        "limits.usual_maintenance.source",
        "limits.titration.source",
    ]


def test_other_broken_files_are_refused():
    data = raw("buprenorphine-injection-weekly")
    bad = copy.deepcopy(data)
    bad["fixed_doses"].append(40)
    assert any("a fixed dose is above limits.daily_max" in p for p in problems(bad))
    bad = copy.deepcopy(data)
    bad["self_setting"] = True  # an injection a professional gives cannot be set by the patient
    assert any("self_setting" in p for p in problems(bad))
    bad = copy.deepcopy(raw("acamprosate"))
    bad["references"] = []
    assert [p.split(":")[0] for p in problems(bad)] == ["references"]
    bad = copy.deepcopy(raw("methadone"))
    bad["limits"]["ecg"] = {"value": 100, "source": "a misspelt field"}
    assert [p.split(":")[0] for p in problems(bad)] == ["limits.ecg"]


def test_the_registry_refuses_a_broken_file(tmp_path, monkeypatch):
    data = raw("methadone")
    data["limits"]["usual_maintenance"]["high"] = 200
    (tmp_path / "methadone.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(registry, "MEDICINES_DIR", tmp_path)
    registry.medicines.cache_clear()
    try:
        with pytest.raises(DefinitionError) as caught:
            registry.medicines()
        assert "limits.usual_maintenance.high is above limits.daily_max" in str(caught.value)
    finally:
        monkeypatch.undo()
        registry.medicines.cache_clear()
    assert registry.get("methadone").limits.usual_maintenance.high == 120
