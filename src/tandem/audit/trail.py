"""Writing and verifying the audit trail.

Every event goes on its organisation's hash chain (tandem.core.audit_chain), keyed with
`chain_key()`. An event is written at once, in the transaction of whatever it records, and
given its place in the chain (sequence number, previous hash, hash) by `seal`, which queues on
a lock of the organisation's chain head (audit.ChainHead), so that several app servers keep
one chain linear.

LOCK ORDER. The chain head is the LAST lock a transaction takes, and it takes no other lock
while holding it; waiting for it can therefore never close a circle of waits (a deadlock). A
request runs in one transaction (tandem.web.transactions) inside `sealed_at_end`: what it
records is written as it goes and sealed just before it commits, after the deferred
foreign-key checks of the whole transaction have been run (they take share locks on the rows
referred to: the organisation, the patient, the user). Before, the chain was locked on the
organisation row at the moment of recording, between a request's other writes: one request
held a patient and waited for the organisation while another held the organisation and
waited for the patient (docs/audit.md). Outside a request (a command, the worker) an event is
sealed when recorded; such code should record last in its transaction, or use
`sealed_at_end` itself.
"""

from __future__ import annotations

import contextlib
import datetime
from contextvars import ContextVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.crypto import salted_hmac

from tandem.audit.actor import Actor
from tandem.audit.models import AuditEvent, ChainHead
from tandem.bulk import insert_many
from tandem.core.audit_chain import (
    GENESIS,
    Break,
    StoredLink,
    check_anchor,
    first_broken_link,
    link_hash,
)

KEY_SALT = "tandem.audit.chain-key"
COLUMNS = [f.attname for f in AuditEvent._meta.concrete_fields if not f.primary_key]


def _organisations():
    """Every organisation. The audit trail sits below accounts (which records its changes
    here), so it reaches them through the events' own foreign key rather than an import."""
    return AuditEvent._meta.get_field("organisation").related_model.objects.all()


def chain_key() -> bytes:
    """The key of every organisation's chain: TANDEM_AUDIT_KEY, or else one derived from the
    secret key with a salt of its own. It never changes: events linked with another key no
    longer verify (docs/operations.md)."""
    if settings.AUDIT_KEY:
        return settings.AUDIT_KEY.encode()
    return salted_hmac(KEY_SALT, "audit chain", algorithm="sha256").digest()


# The events recorded inside `sealed_at_end` and not sealed yet (None: seal as recorded).
_pending: ContextVar[list[AuditEvent] | None] = ContextVar("audit_pending", default=None)


@contextlib.contextmanager
def sealed_at_end():
    """Seal what is recorded inside this block when it ends, rather than as it is recorded.
    Use it as the last thing inside a transaction (as the request middleware does); an
    exception leaves the events unsealed, for the transaction to roll them back. On SQLite,
    whose writers take turns and cannot deadlock, events are sealed as recorded anyway."""
    if _pending.get() is not None or not connection.features.has_select_for_update:
        yield  # inside one already (the outer block seals), or SQLite
        return
    token = _pending.set([])
    try:
        yield
        events = _pending.get()
        if events:
            seal(events)
    finally:
        _pending.reset(token)


def _append(events: list[AuditEvent]) -> None:
    pending = _pending.get()
    if pending is not None:  # written now, given its place in the chain at the end
        AuditEvent.objects.bulk_create(events)
        pending.extend(events)
        return
    key = chain_key()
    with transaction.atomic():  # written in its place at once
        for organisation_id, group in _by_organisation(events):
            seq, prev = _link(group, *_lock_head(organisation_id), key)
            if len(group) == 1:
                group[0].save()
            else:
                insert_many(AuditEvent, COLUMNS, [
                    tuple(getattr(e, c) for c in COLUMNS) for e in group])
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {ChainHead._meta.db_table} SET seq = %s, hash = %s"
                               " WHERE organisation_id = %s", [seq, prev, organisation_id])


def seal(events: list[AuditEvent]) -> None:
    """Give events written earlier in this transaction their places in their chains, as its
    last step (`sealed_at_end`, PostgreSQL): first the transaction's deferred foreign-key
    checks are run, so that their locks come before the chain head's. An event whose
    savepoint was rolled back since is no longer there and gets no place."""
    key = chain_key()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for organisation_id, group in _by_organisation(events):
            start = _lock_head(organisation_id)
            written = _place(cursor, organisation_id, group, start, key)
            if len(written) < len(group):  # some were rolled back: place the others again
                cursor.execute(f"UPDATE {AuditEvent._meta.db_table} SET seq = NULL"
                               " WHERE id = ANY(%s)", [list(written)])
                _place(cursor, organisation_id, [e for e in group if e.pk in written],
                       start, key)
        if connection.savepoint_ids:  # an outer transaction goes on (a test's)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


PLACES_AT_ONCE = 5000


def _place(cursor, organisation_id: int, events: list[AuditEvent], start, key) -> set:
    """Write the events' places in the chain after `start` (the head's seq and hash) and
    move the head past them; return the ids of those still there."""
    seq, prev = _link(events, *start, key)
    written = set()
    table, head = AuditEvent._meta.db_table, ChainHead._meta.db_table
    for i in range(0, len(events), PLACES_AT_ONCE):
        chunk = events[i:i + PLACES_AT_ONCE]
        values = ", ".join(["(%s::bigint, %s::bigint, %s, %s)"] * len(chunk))
        cursor.execute(
            f"WITH v (id, seq, prev_hash, hash) AS (VALUES {values}),"
            f" h AS (UPDATE {head} SET seq = %s, hash = %s WHERE organisation_id = %s)"
            f" UPDATE {table} AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash"
            " FROM v WHERE e.id = v.id RETURNING e.id",
            [x for e in chunk for x in (e.pk, e.seq, e.prev_hash, e.hash)]
            + [seq, prev, organisation_id])
        written |= {row[0] for row in cursor.fetchall()}
    if not events:
        cursor.execute(f"UPDATE {head} SET seq = %s, hash = %s WHERE organisation_id = %s",
                       [seq, prev, organisation_id])
    return written


def _by_organisation(events):
    """The events of each organisation, in the order recorded, organisations in id order:
    one order for everyone who locks several chain heads."""
    return [(org, [e for e in events if e.organisation_id == org])
            for org in sorted({e.organisation_id for e in events})]


def _link(events: list[AuditEvent], seq: int, prev: str, key: bytes) -> tuple[int, str]:
    """Give the events the places after (seq, prev); the new head's (seq, hash)."""
    for event in events:
        seq += 1
        event.seq, event.prev_hash = seq, prev
        event.hash = prev = link_hash(prev, event.chained_fields(), key)
    return seq, prev


def _lock_head(organisation_id: int) -> tuple[int, str]:
    """Lock the organisation's chain head until this transaction ends (SQLite: its writers
    take turns anyway) and return its (seq, hash); a new organisation's head is made here."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    head = ChainHead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, hash FROM {head} WHERE organisation_id = %s{lock}",
                       [organisation_id])
        found = cursor.fetchone()
        if found is None:
            cursor.execute(f"SELECT seq, hash FROM {AuditEvent._meta.db_table}"
                           " WHERE organisation_id = %s AND seq IS NOT NULL"
                           " ORDER BY seq DESC LIMIT 1", [organisation_id])
            tail = cursor.fetchone() or (0, GENESIS)
            cursor.execute(f"INSERT INTO {head} (organisation_id, seq, hash) VALUES (%s, %s, %s)"
                           " ON CONFLICT (organisation_id) DO NOTHING", [organisation_id, *tail])
            cursor.execute(f"SELECT seq, hash FROM {head} WHERE organisation_id = %s{lock}",
                           [organisation_id])
            found = cursor.fetchone()
    return found


def text(value: str) -> str:
    """Text as stored in an event: without NUL characters, which PostgreSQL cannot store (a
    header may carry one; the NUL middleware refuses them in parameters and fields only)."""
    return value.replace("\x00", "")


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
    detail: str = "",
) -> AuditEvent:
    """Append one event to the organisation's chain (`organisation`: the object or its id).
    `detail` says what a change changed, whole (any length)."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
    event = AuditEvent(
        organisation_id=getattr(organisation, "pk", organisation),
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
        purpose=text(purpose)[:200],
        detail=text(detail),
    )
    _append([event])
    return event


def record_many(actor: Actor, action: str, objects) -> int:
    """Append one event per (patient id, object type, object id) for this actor, in one
    insert and one seal for the lot."""
    user = actor.user
    now = timezone.now()
    common = {
        "organisation_id": user.organisation_id, "actor_id": user.pk,
        "actor_username": user.username, "role": actor.role, "action": action,
        "path": actor.path[:300], "client_address": actor.address, "occurred_at": now,
        "purpose": text(actor.purpose)[:200],
    }
    events = [AuditEvent(**common, patient_id=patient_id, object_type=object_type,
                         object_id=str(object_id))
              for patient_id, object_type, object_id in objects]
    _append(events)
    return len(events)


def record_by(actor: Actor, action: str, *, patient=None, obj=None, role: str = "", **kw):
    """Append one event done by `actor` (its role unless `role` says otherwise)."""
    return record(
        organisation=actor.organisation_id,
        action=action,
        actor=actor.user,
        role=role or actor.role,
        patient=patient,
        obj=obj,
        path=actor.path,
        client=actor.address,
        purpose=actor.purpose,
        **kw,
    )


def record_request(request, action: str, **kw):
    """Append one event done by the person making this request (`record_by`)."""
    return record_by(Actor.of(request), action, **kw)


def verify(organisation=None) -> list[tuple[object, Break]]:
    """Check every organisation's chain with the key; return the first broken link of each
    broken chain. A stored event outside the chain (no place in it) is a break too, and so is
    a chain that ends before its head (events cut off its end), or has events and no head."""
    orgs = [organisation] if organisation else list(_organisations().order_by("pk"))
    key = chain_key()
    problems = []
    for org in orgs:
        # The head first: events appended while this runs only move the chain past it.
        head = ChainHead.objects.filter(organisation=org).values_list("seq", "hash").first()
        events = (AuditEvent.objects.filter(organisation=org, seq__isnull=False)
                  .order_by("seq").iterator(chunk_size=2000))
        links = (
            StoredLink(e.seq, e.pk, e.chained_fields(), e.prev_hash, e.hash) for e in events
        )
        broken = first_broken_link(links, key)
        if broken is None:
            outside = (AuditEvent.objects.filter(organisation=org, seq__isnull=True)
                       .order_by("pk").values_list("pk", flat=True).first())
            if outside is not None:
                broken = Break(None, outside, "stored outside the chain: it has no place in it")
        if broken is None:
            broken = _head_broken(org, head)
        if broken:
            problems.append((org, broken))
    return problems


def _head_broken(org, head: tuple[int, str] | None) -> Break | None:
    """What is wrong between an unbroken chain and its head (read before the chain): the
    head's event must be there, as the head names it. Every append makes the head first and
    moves it with the events it seals, so a chain with events and no head lost its head."""
    chain = AuditEvent.objects.filter(organisation=org, seq__isnull=False)
    if head is None:
        last = chain.order_by("-seq").values_list("seq", "pk").first()
        if last is None:
            return None
        return Break(last[0], last[1], "the chain head is missing (removed from the database)")
    seq, digest = head
    if seq == 0:
        return None
    stored = chain.filter(seq=seq).values_list("pk", "hash").first()
    if stored is None:
        length = chain.aggregate(n=Max("seq"))["n"] or 0
        return Break(seq, None, f"the chain ends at #{length} before its head at #{seq} "
                                "(events were removed from its end)")
    if stored[1] != digest:
        return Break(seq, stored[0], "the chain head does not name this event (its hash "
                                     "differs)")
    return None


def heads() -> list[dict]:
    """The last event of each organisation's chain, as an anchor writes it down."""
    now = timezone.now().astimezone(datetime.UTC).isoformat(timespec="seconds")
    found = []
    for org in _organisations().order_by("pk"):
        last = (AuditEvent.objects.filter(organisation=org, seq__isnull=False).order_by("-seq")
                .values_list("seq", "hash").first())
        if last is not None:
            found.append({"organisation": org.pk, "name": org.name, "seq": last[0],
                          "hash": last[1], "at": now})
    return found


def check_anchors(anchors: list[dict]) -> list[str]:
    """What no longer matches each anchored head (organisation id, seq, hash): a chain cut
    short, or an event at the anchored place that is not the one anchored."""
    problems = []
    names = dict(_organisations().values_list("pk", "name"))
    for anchor in anchors:
        org = anchor["organisation"]
        if org not in names:
            problems.append(f"organisation {org} of the anchor no longer exists")
            continue
        chain = AuditEvent.objects.filter(organisation_id=org, seq__isnull=False)
        stored = chain.filter(seq=anchor["seq"]).values_list("hash", flat=True).first()
        length = chain.aggregate(n=Max("seq"))["n"] or 0
        wrong = check_anchor(anchor["seq"], anchor["hash"], stored, length)
        if wrong:
            problems.append(f"{names[org]}: {wrong}")
    return problems
