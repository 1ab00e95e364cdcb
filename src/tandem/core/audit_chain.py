"""The tamper-evident hash chain behind the audit trail.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON encoding of
the event's own fields (sorted keys, no whitespace), in the manner of a hash-linked log
(cf. RFC 6962's Merkle-tree log, here a simple linear chain). Changing, removing or
re-ordering any stored event breaks every later link; `first_broken_link` finds the first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


def canonical_time(moment: datetime) -> str:
    """UTC, microsecond precision: stable across SQLite and PostgreSQL round trips."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def link_hash(previous: str, fields: Mapping[str, object]) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((previous + "|" + payload).encode()).hexdigest()


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


def first_broken_link(links: Iterable[StoredLink]) -> Break | None:
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
        if link_hash(link.prev_hash, link.fields) != link.hash:
            return Break(link.seq, link.ident, "content does not match its hash")
        expected_prev = link.hash
        expected_seq += 1
    return None
