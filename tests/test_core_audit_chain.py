"""Property tests for the pure hash chain (no database)."""

import datetime

from hypothesis import given
from hypothesis import strategies as st

from tandem.core.audit_chain import (
    GENESIS,
    StoredLink,
    canonical_time,
    first_broken_link,
    link_hash,
)

fields = st.dictionaries(st.sampled_from(["actor", "action", "patient", "path"]),
                         st.one_of(st.none(), st.integers(), st.text(max_size=20)), min_size=1)


def chain(contents):
    links, prev = [], GENESIS
    for seq, content in enumerate(contents, start=1):
        data = dict(content, seq=seq)
        digest = link_hash(prev, data)
        links.append(StoredLink(seq, seq, data, prev, digest))
        prev = digest
    return links


@given(st.lists(fields, max_size=15))
def test_an_untouched_chain_verifies(contents):
    assert first_broken_link(chain(contents)) is None


@given(st.lists(fields, min_size=1, max_size=15), st.data())
def test_changing_any_event_is_found_exactly_there(contents, data):
    links = chain(contents)
    i = data.draw(st.integers(0, len(links) - 1))
    victim = links[i]
    changed = dict(victim.fields, action="tampered-" + str(victim.fields.get("action")))
    links[i] = StoredLink(victim.seq, victim.ident, changed, victim.prev_hash, victim.hash)
    broken = first_broken_link(links)
    assert broken is not None and broken.seq == victim.seq


@given(st.lists(fields, min_size=2, max_size=15), st.data())
def test_removing_any_event_is_found(contents, data):
    links = chain(contents)
    i = data.draw(st.integers(0, len(links) - 2))
    del links[i]
    broken = first_broken_link(links)
    assert broken is not None and broken.seq == i + 2


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
