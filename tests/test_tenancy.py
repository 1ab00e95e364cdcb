"""Every query of one organisation's rows names the organisation the same way: `.of(org)` on
the tenant models' manager (tandem.records.models.TenantQuerySet), never a filter written by
hand, so a reader sees at the call site which organisation a query reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps

from tandem.records.models import TenantQuerySet

SRC = Path(__file__).resolve().parent.parent / "src" / "tandem"
BY_HAND = re.compile(r"\b(\w+)\.objects\.(?:filter|get|exclude)\([^()]*\borganisation(?:_id)?=")


def with_of() -> set[str]:
    return {m.__name__ for m in apps.get_models()
            if isinstance(m._default_manager.all(), TenantQuerySet)}


def written_by_hand(source: str, models: set[str]) -> list[str]:
    return [m.group(0) for m in BY_HAND.finditer(source) if m.group(1) in models]


@pytest.mark.parametrize("path", sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts),
                         ids=lambda p: str(p.relative_to(SRC)))
def test_tenant_queries_name_their_organisation_with_of(path):
    assert written_by_hand(path.read_text(), with_of()) == []


def test_the_check_finds_a_filter_by_organisation_written_by_hand():
    models = with_of()
    assert {"Patient", "Flag", "Team", "RuleSetting"} <= models
    assert written_by_hand("Patient.objects.filter(organisation=org, service_id=x)", models)
    assert written_by_hand("Flag.objects.get(pk=1, organisation_id=org)", models)
    assert not written_by_hand("Patient.objects.of(org).filter(service_id=x)", models)


def test_of_refuses_what_is_not_an_organisation(world):
    from tandem.patients.models import Patient

    assert list(Patient.objects.of(world.other_org)) == [world.p_other]
    assert set(Patient.objects.of(world.org.pk)) == {world.p1, world.p2, world.p3}
    with pytest.raises(TypeError):
        Patient.objects.of(world.team_a)
    with pytest.raises(ValueError):
        Patient.objects.of(None)
