"""Every query of one organisation's rows names the organisation the same way: `.of(org)` on
the tenant models' manager (tandem.records.models.TenantQuerySet), never a filter written by
hand, so a reader sees at the call site which organisation a query reads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps

from tandem.records.models import TenantQuerySet

SRC = Path(__file__).resolve().parent.parent / "src" / "tandem"
LOOKUPS = {"filter", "get", "exclude"}  # creating a row names its organisation, as it must
BY_ORGANISATION = {"organisation", "organisation_id"}


def with_of() -> set[str]:
    return {m.__name__ for m in apps.get_models()
            if isinstance(m._default_manager.all(), TenantQuerySet)}


def _model_of(node) -> str | None:
    """The model a query starts from: `Model.objects...` or get_object_or_404(Model, ...)."""
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            return node.value.id if isinstance(node.value, ast.Name) else None
        node = node.func if isinstance(node, ast.Call) else node.value
    return None


def _outer(value) -> bool:
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id == "OuterRef")


def written_by_hand(source: str, models: set[str]) -> list[str]:
    """Each lookup of a tenant model that filters by organisation itself, rather than .of()."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        # By a value of this organisation's: not a subquery matching the outer row's (OuterRef).
        if not any(k.arg in BY_ORGANISATION and not _outer(k.value) for k in node.keywords):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in LOOKUPS:
            model = _model_of(func.value)
        elif isinstance(func, ast.Name) and func.id == "get_object_or_404" and node.args:
            first = node.args[0]
            model = first.id if isinstance(first, ast.Name) else _model_of(first)
        else:
            continue
        if model in models:
            found.append(f"line {node.lineno}: {model}")
    return found


SOURCES = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_tenant_queries_name_their_organisation_with_of(path):
    assert written_by_hand(path.read_text(), with_of()) == []


@pytest.mark.parametrize("source", [
    "Patient.objects.filter(organisation=org, service_id=x)",
    "Flag.objects.get(pk=1, organisation_id=org)",
    "Patient.objects.filter(Q(pk__in=ids) | Q(team=t), organisation=org).order_by('pk')",
    "Patient.objects.select_related('team').filter(\n    organisation_id=org)",
    "get_object_or_404(Team, pk=team_id, organisation=org)",
])
def test_the_check_finds_a_filter_by_organisation_written_by_hand(source):
    models = with_of()
    assert {"Patient", "Flag", "Team", "RuleSetting"} <= models
    assert written_by_hand(source, models)


def test_the_check_allows_of_and_models_without_it():
    models = with_of()
    for source in ("Patient.objects.of(org).filter(service_id=x)",
                   "get_object_or_404(Team.objects.of(org), pk=team_id)",
                   "CheckupSettings.objects.filter(organisation=org).first()",  # one per org
                   "CareTeam.objects.create(organisation=org, patient=p)",
                   "Team.objects.get_or_create(organisation=org, name=n)",
                   "LifeDomain.objects.filter(organisation_id=OuterRef('organisation_id'))"):
        assert not written_by_hand(source, models), source


def test_of_refuses_what_is_not_an_organisation(world):
    from tandem.patients.models import Patient

    assert list(Patient.objects.of(world.other_org)) == [world.p_other]
    assert set(Patient.objects.of(world.org.pk)) == {world.p1, world.p2, world.p3}
    with pytest.raises(TypeError):
        Patient.objects.of(world.team_a)
    with pytest.raises(ValueError):
        Patient.objects.of(None)
