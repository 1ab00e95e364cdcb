"""Writing and verifying the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tandem.accounts.models import Organisation
from tandem.audit.models import CHAINED, AuditEvent, chain_values
from tandem.bulk import insert_many
from tandem.core.audit_chain import GENESIS, Break, StoredLink, first_broken_link, link_hash

MAX_ATTEMPTS = 20


def client_address(request) -> str | None:
    """The client's address: the TCP peer, or, with TANDEM_BEHIND_PROXY, the address our own
    proxy appended last to X-Forwarded-For (earlier entries are client-supplied and untrusted).
    Sign-in throttling (AXES_CLIENT_IP_CALLABLE) uses this too."""
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR") or None


def _lock_chain(organisation_id: int) -> tuple[int, str] | None:
    """Hold the organisation's row until this transaction ends (one chain writer at a time),
    then read the chain's last (seq, hash), or None. Two plain statements, as this runs on
    every page that shows patient data: the read must come after the lock, so it sees what
    the writer before it committed."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Organisation._meta.db_table} WHERE id = %s{lock}",
                       [organisation_id])
        cursor.execute(f"SELECT seq, hash FROM {AuditEvent._meta.db_table}"
                       " WHERE organisation_id = %s ORDER BY seq DESC LIMIT 1",
                       [organisation_id])
        return cursor.fetchone()


def record(
    *,
    organisation,
    action: str,
    actor=None,
    role: str = "",
    patient=None,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    path: str = "",
    client: str | None = None,
    purpose: str = "",
) -> AuditEvent:
    """Append one event to the organisation's chain (`organisation`: the object or its id).

    Writers to one organisation's chain queue on a lock of its organisation row (PostgreSQL;
    SQLite serialises write transactions anyway), so the chain stays linear with several app
    servers. The (organisation, seq) unique constraint backs this up: should two writers still
    read the same tail, they collide and the loser re-reads and retries.
    """
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
    organisation_id = getattr(organisation, "pk", organisation)
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                last = _lock_chain(organisation_id)
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                event = AuditEvent(
                    organisation_id=organisation_id,
                    seq=seq,
                    occurred_at=timezone.now(),
                    actor=actor if actor is not None and actor.is_authenticated else None,
                    actor_username=getattr(actor, "username", "") or "",
                    role=role,
                    action=action,
                    patient=patient,
                    object_type=object_type,
                    object_id=object_id,
                    path=path[:300],
                    client_address=client,
                    purpose=purpose[:200],
                    prev_hash=prev,
                )
                event.hash = link_hash(prev, event.chained_fields())
                event.save()
                return event
        except IntegrityError:
            continue
    raise RuntimeError("could not append to the audit chain: too much contention")


def record_many(request, action: str, objects) -> int:
    """Append one event per (patient id, object type, object id) for this request, in one go.

    Same chain and same retry on contention as `record`, with one read of the chain's tail and
    one bulk insert for the lot (tandem.bulk)."""
    user = request.user
    organisation = user.organisation_id
    common = {
        "organisation": organisation, "actor": user.pk, "actor_username": user.username,
        "role": getattr(request, "access_role", ""), "action": action,
        "path": request.get_full_path()[:300], "client_address": client_address(request),
        "purpose": (request.headers.get("X-Purpose-Of-Use", "")
                    or request.GET.get("purpose", ""))[:200],
    }
    columns = [attname for _name, attname in CHAINED] + ["prev_hash", "hash"]
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                last = _lock_chain(organisation)
                seq, prev = (last[0], last[1]) if last else (0, GENESIS)
                now = timezone.now()
                rows = []
                for patient_id, object_type, object_id in objects:
                    seq += 1
                    fields = {**common, "seq": seq, "occurred_at": now, "patient": patient_id,
                              "object_type": object_type, "object_id": str(object_id)}
                    digest = link_hash(prev, chain_values(fields))
                    rows.append((*(fields[name] for name, _a in CHAINED), prev, digest))
                    prev = digest
                return insert_many(AuditEvent, columns, rows)
        except IntegrityError:
            continue
    raise RuntimeError("could not append to the audit chain: too much contention")


def record_request(request, action: str, *, patient=None, obj=None, role: str = "", **kw):
    user = request.user
    return record(
        organisation=user.organisation_id,
        action=action,
        actor=user,
        role=role or getattr(request, "access_role", ""),
        patient=patient,
        obj=obj,
        path=request.get_full_path(),
        client=client_address(request),
        purpose=request.headers.get("X-Purpose-Of-Use", "")
        or request.GET.get("purpose", ""),
        **kw,
    )


def verify(organisation=None) -> list[tuple[object, Break]]:
    """Check every organisation's chain; return the first broken link of each broken chain."""
    orgs = [organisation] if organisation else list(Organisation.objects.order_by("pk"))
    problems = []
    for org in orgs:
        events = (
            AuditEvent.objects.filter(organisation=org).order_by("seq").iterator(chunk_size=2000)
        )
        links = (
            StoredLink(e.seq, e.pk, e.chained_fields(), e.prev_hash, e.hash) for e in events
        )
        broken = first_broken_link(links)
        if broken:
            problems.append((org, broken))
    return problems
