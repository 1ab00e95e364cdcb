"""The tamper-evident hash chain behind the audit trail.

Each event's hash is an HMAC-SHA-256 (RFC 2104), under a key kept outside the database, of the
previous event's hash and a canonical JSON encoding of the event's own fields (sorted keys, no
whitespace), in the manner of a hash-linked log (cf. RFC 6962's Merkle-tree log, here a simple
linear chain). Changing, removing or re-ordering any stored event breaks every later link, and
without the key nobody can compute the links again after changing an event;
`first_broken_link` finds the first break. Cutting events off the end leaves a shorter chain
that still verifies: an anchor kept elsewhere (`check_anchor`) finds that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


def canonical_time(moment: datetime) -> str:
    """UTC, microsecond precision: stable across SQLite and PostgreSQL round trips."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def link_hash(previous: str, fields: Mapping[str, object], key: bytes) -> str:
    """The link for an event: HMAC-SHA-256 under `key` of the previous hash and its fields."""
    if not key:
        raise ValueError("the audit chain needs a key")
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, (previous + "|" + payload).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StoredLink:
    seq: int
    ident: object
    fields: Mapping[str, object]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Break:
    seq: int
    ident: object
    reason: str


def first_broken_link(links: Iterable[StoredLink], key: bytes) -> Break | None:
    """Walk one chain in sequence order; return the first link that does not verify."""
    expected_prev = GENESIS
    expected_seq = 1
    for link in links:
        if link.seq != expected_seq:
            return Break(
                link.seq, link.ident, f"sequence jumps from {expected_seq - 1} to {link.seq}"
            )
        if link.prev_hash != expected_prev:
            return Break(link.seq, link.ident, "previous-hash does not match the event before")
        if not hmac.compare_digest(link_hash(link.prev_hash, link.fields, key), link.hash):
            return Break(link.seq, link.ident, "content does not match its hash")
        expected_prev = link.hash
        expected_seq += 1
    return None


def check_anchor(seq: int, anchored: str, stored: str | None, length: int) -> str | None:
    """What is wrong with a chain of `length` events against an anchor (its head `anchored`
    at `seq`, written down earlier and kept elsewhere), where the event now stored at `seq` has
    hash `stored` (None: there is none); None if the chain still holds the anchored event."""
    if stored is None:
        return (f"event #{seq} is missing: the chain ends at #{length} "
                "(events were removed from its end)")
    if not hmac.compare_digest(stored, anchored):
        return f"event #{seq} is not the one anchored (the chain was rewritten)"
    return None
