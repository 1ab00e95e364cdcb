"""The apps depend one way. Each app (or top-level module) of src/tandem has a place in LAYERS;
a module may import its own app and the apps below it, never one above, whether the import is
at the top of the module or inside a function. Imports inside functions are allowed only in
an AppConfig's `ready()` (Django's place for connecting receivers), and only of the app itself.
A lower app tells the apps above what happened through its `events` module (Django signals).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "tandem"

# Bottom first. Why each app is where it is: README ("Layout").
LAYERS = [
    "core",  # pure domain logic: no Django
    "config", "settings", "bulk", "wsgi",  # configuration and database helpers
    "audit",  # the hash-chained audit trail: everything below the shell writes to it
    "records",  # the tenant base models and the one versioned save
    "accounts",  # organisations, users, roles, teams; the permission layer's mechanism
    "patients",  # patients, episodes, care teams; who may open which patient
    "outbox",  # messages sent to patients (email, text, letter) and their status
    "assessment",  # questionnaires, check-ups and their schedules
    "planning",  # priority sorts, goals, the recovery care plan, reviews
    "feedback",  # the feedback report a patient shapes from their check-ups and goals
    "medication",  # substitute medication: plans, doses, dispensing, reviews, reductions
    "monitoring",  # flags, the early-warning rules, contacts, the timeline
    "portal_access",  # patients' portal logins: invitations, activation, suspension, resets
    "caseload",  # who needs me today and each patient's summary: reads every clinical app
    "reminders",  # what is sent to patients and when: their choices, wording, appointments
    "reporting",  # the service report: figures over every clinical app, exports
    "portal", "demo", "web", "api", "urls", "cli",  # the shell: pages, API, commands
]
RANK = {name: n for n, name in enumerate(LAYERS)}


def app_of(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def modules():
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def problems(source: str, app: str, filename: str = "<module>") -> list[str]:
    """Each import in `source` (a module of `app`) that breaks the rule, in words."""
    found = []
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + ([f"tandem.{a.name}" for a in node.names]
                                     if node.module == "tandem" else [])
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        function = next((p for p in _ancestors(node, parents)
                         if isinstance(p, ast.FunctionDef | ast.AsyncFunctionDef)), None)
        for name in names:
            if name != "tandem" and not name.startswith("tandem."):
                continue
            target = name.split(".")[1] if "." in name else app
            where = f"{filename}:{node.lineno} imports {name}"
            if target not in RANK:
                found.append(f"{where}: {target} has no place in LAYERS")
            elif RANK[target] > RANK[app]:
                found.append(f"{where}: {target} is above {app}")
            if function is not None and not (function.name == "ready" and target == app):
                found.append(f"{where} inside {function.name}(): import at the top instead")
    return found


def _ancestors(node, parents):
    while node in parents:
        node = parents[node]
        yield node


def test_every_app_has_a_place():
    apps = {app_of(p) for p in modules()} - {"__init__"}
    assert apps - set(RANK) == set(), "place each new app in LAYERS"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_an_app_above_its_own(path):
    app = app_of(path)
    if app == "__init__":
        return
    assert problems(path.read_text(), app, str(path.relative_to(SRC))) == []


@pytest.mark.parametrize("source, words", [
    ("from tandem.monitoring.models import Flag\n", "monitoring is above patients"),
    ("import tandem.planning.models\n", "planning is above patients"),
    ("from tandem import caseload\n", "caseload is above patients"),
    ("def f():\n    from tandem.assessment import responses\n", "assessment is above patients"),
    ("def f():\n    from tandem.accounts import models\n", "inside f(): import at the top"),
    ("class C:\n    def ready(self):\n        from tandem.accounts import models\n",
     "inside ready()"),
    ("from tandem.nowhere import x\n", "nowhere has no place in LAYERS"),
])
def test_the_check_finds_each_kind_of_wrong_import(source, words):
    found = problems(source, "patients")
    assert any(words in p for p in found), found


def test_the_check_allows_what_the_rule_allows():
    source = ("from tandem.accounts.models import Role\nfrom tandem.core import flags\n"
              "class C:\n    def ready(self):\n        from tandem.patients import signals\n")
    assert problems(source, "patients") == []
