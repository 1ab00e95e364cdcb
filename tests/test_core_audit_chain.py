"""Property tests for the pure hash chain (no database)."""

import datetime
import hashlib
import hmac
import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tandem.core.audit_chain import (
    GENESIS,
    StoredLink,
    canonical_time,
    check_anchor,
    first_broken_link,
    link_hash,
)

KEY = b"k" * 32
keys = st.binary(min_size=1, max_size=64)

fields = st.dictionaries(st.sampled_from(["actor", "action", "patient", "path"]),
                         st.one_of(st.none(), st.integers(), st.text(max_size=20)), min_size=1)


def chain(contents, key=KEY):
    links, prev = [], GENESIS
    for seq, content in enumerate(contents, start=1):
        data = dict(content, seq=seq)
        digest = link_hash(prev, data, key)
        links.append(StoredLink(seq, seq, data, prev, digest))
        prev = digest
    return links


@given(st.lists(fields, max_size=15))
def test_an_untouched_chain_verifies(contents):
    assert first_broken_link(chain(contents), KEY) is None


@given(st.lists(fields, min_size=1, max_size=15), st.data())
def test_changing_any_event_is_found_exactly_there(contents, data):
    links = chain(contents)
    i = data.draw(st.integers(0, len(links) - 1))
    victim = links[i]
    changed = dict(victim.fields, action="tampered-" + str(victim.fields.get("action")))
    links[i] = StoredLink(victim.seq, victim.ident, changed, victim.prev_hash, victim.hash)
    broken = first_broken_link(links, KEY)
    assert broken is not None and broken.seq == victim.seq


@given(st.lists(fields, min_size=2, max_size=15), st.data())
def test_removing_any_event_is_found(contents, data):
    links = chain(contents)
    i = data.draw(st.integers(0, len(links) - 2))
    del links[i]
    broken = first_broken_link(links, KEY)
    assert broken is not None and broken.seq == i + 2


@given(st.lists(fields, min_size=1, max_size=15), st.data(), keys)
def test_a_chain_recomputed_without_the_key_never_verifies(contents, data, other):
    """Someone who edits an event and links the whole chain again, with any key but the
    right one (or none: plain SHA-256), is found at the first event they linked."""
    assume(other != KEY)
    links = chain(contents)
    i = data.draw(st.integers(0, len(links) - 1))
    edited = [dict(link.fields) for link in links]
    edited[i]["action"] = "tampered"
    forged = chain([{k: v for k, v in f.items() if k != "seq"} for f in edited], key=other)
    broken = first_broken_link(forged, KEY)
    assert broken is not None and broken.seq == 1
    plain, prev = [], GENESIS
    for link in forged:
        digest = hashlib.sha256((prev + "|" + json.dumps(
            link.fields, sort_keys=True, separators=(",", ":"), default=str)).encode()).hexdigest()
        plain.append(StoredLink(link.seq, link.ident, link.fields, prev, digest))
        prev = digest
    assert first_broken_link(plain, KEY).seq == 1


@given(st.text(max_size=64), fields, keys, keys)
def test_the_link_is_an_hmac_of_the_previous_hash_and_the_fields(previous, content, key, other):
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    expected = hmac.new(key, (previous + "|" + payload).encode(), hashlib.sha256).hexdigest()
    assert link_hash(previous, content, key) == expected
    assert (link_hash(previous, content, other) == expected) == (other == key)


def test_there_is_no_chain_without_a_key():
    with pytest.raises(ValueError, match="key"):
        link_hash(GENESIS, {"action": "read"}, b"")


@given(st.lists(fields, min_size=1, max_size=15), st.data())
def test_an_anchor_finds_a_chain_cut_short_and_holds_for_one_that_grew(contents, data):
    links = chain(contents)
    at = data.draw(st.integers(1, len(links)))
    anchored = links[at - 1].hash
    grown = links + chain(contents + [{"action": "later"}])[len(links):]
    assert check_anchor(at, anchored, grown[at - 1].hash, len(grown)) is None
    cut = data.draw(st.integers(0, at - 1))  # events from `cut` on removed
    kept = links[:cut]
    problem = check_anchor(at, anchored, None, len(kept))
    assert problem is not None and f"#{at} is missing" in problem
    assert f"ends at #{len(kept)}" in problem


@given(st.lists(fields, min_size=1, max_size=15), st.data())
def test_an_anchor_finds_a_chain_rewritten_under_it(contents, data):
    links = chain(contents)
    at = data.draw(st.integers(1, len(links)))
    rewritten = chain(contents, key=b"another key")
    problem = check_anchor(at, links[at - 1].hash, rewritten[at - 1].hash, len(rewritten))
    assert problem is not None and "rewritten" in problem


@given(st.datetimes(timezones=st.just(datetime.UTC)))
def test_canonical_time_round_trips(moment):
    text = canonical_time(moment)
    assert text.endswith("Z") and len(text) == 27
    assert datetime.datetime.fromisoformat(text) == moment


def test_core_has_no_django_imports():
    from pathlib import Path

    core = Path(__file__).resolve().parents[1] / "src" / "tandem" / "core"
    for path in core.glob("*.py"):
        assert "django" not in path.read_text(), path
