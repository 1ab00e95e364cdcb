"""Audit events for a service admin's changes (users, roles, teams, settings), each saying
what changed, e.g. "changed: roles practitioner→practitioner,team_lead; teams A→A,B".

The summary is the event's `detail`, whole (hashed into the chain like every other field); its
`purpose` is the actor's purpose of use (the request's), as for any other event."""

from __future__ import annotations

from tandem.audit import trail
from tandem.audit.actor import Actor

EMPTY = "—"


def shown(value) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(sorted(str(v) for v in value)) or EMPTY
    return EMPTY if value in (None, "") else str(value)


def difference(label: str, before, after) -> str | None:
    """'label before→after', or None when nothing changed."""
    old, new = shown(before), shown(after)
    return None if old == new else f"{label} {old}→{new}"


def differences(pairs) -> list[str]:
    """(label, before, after) triples → the ones that changed, as 'label before→after'."""
    return [d for label, before, after in pairs if (d := difference(label, before, after))]


def record_change(actor: Actor, action: str, obj, changes: list[str], *,
                  prefix: str = "changed: ", object_type: str = "", object_id: str = "",
                  patient=None) -> None:
    """One audit event by `actor` for `obj` (or the named object), its detail the summary of
    changes (none when nothing changed); `patient` names whose record it is part of."""
    trail.record_by(actor, action, obj=obj, object_type=object_type, object_id=object_id,
                    patient=patient, detail=prefix + "; ".join(changes) if changes else "")
