"""Someone with write access to the database, but not the audit key, cannot cut events off
the end of a chain or rewrite one unnoticed: the chain is keyed, and its head is written down
elsewhere (`tandem audit anchor`) for `tandem audit verify --anchor` to check against."""

import hashlib
import importlib
import io
import json
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tandem.audit import trail
from tandem.audit.models import AuditEvent, ChainHead
from tandem.core.audit_chain import GENESIS

rekey = importlib.import_module("tandem.audit.migrations.0003_keyed_chain")


def tamper(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def events(world, n, org=None):
    return [trail.record(organisation=org or world.org, action="read", patient=world.p1,
                         object_type="summary") for _ in range(n)]


def anchor(tmp_path, name="anchor.jsonl"):
    path = tmp_path / name
    call_command("audit", "anchor", "--output", str(path), stderr=io.StringIO())
    return path


def verify(*args):
    out = io.StringIO()
    try:
        call_command("audit", "verify", *args, stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def test_anchor_writes_the_head_of_every_chain_as_json_lines(world, tmp_path):
    mine, theirs = events(world, 3), events(world, 2, org=world.other_org)
    out = io.StringIO()
    call_command("audit", "anchor", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(a["organisation"], a["seq"], a["hash"]) for a in lines] == [
        (world.org.pk, mine[-1].seq, mine[-1].hash),
        (world.other_org.pk, theirs[-1].seq, theirs[-1].hash)]
    assert lines[0]["name"] == world.org.name and lines[0]["at"].endswith("+00:00")
    in_file = [json.loads(line) for line in anchor(tmp_path).read_text().splitlines()]
    assert [dict(a, at="") for a in in_file] == [dict(a, at="") for a in lines]


def test_verify_against_an_anchor_passes_while_the_chain_only_grew(world, tmp_path):
    events(world, 4)
    path = anchor(tmp_path)
    events(world, 3)
    ok, out = verify("--anchor", str(path))
    assert ok, out
    assert "every anchor of" in out


def test_cutting_the_last_events_off_fails_verify_against_the_anchor(world, tmp_path):
    written = events(world, 5)
    path = anchor(tmp_path)
    assert verify()[0]
    tamper("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [written[-1].pk, written[-2].pk])
    tamper("UPDATE audit_chainhead SET seq = %s, hash = %s WHERE organisation_id = %s",
           [written[-3].seq, written[-3].hash, world.org.pk])
    assert verify()[0]  # what is left still links: only the anchor tells
    ok, out = verify("--anchor", str(path))
    assert not ok
    assert (f"NOT AS ANCHORED: {world.org.name}: event #{written[-1].seq} is missing: "
            f"the chain ends at #{written[-3].seq}") in out
    assert "events were removed or rewritten" in out


def test_a_chain_rewritten_without_the_key_fails_verify(world, tmp_path):
    """Edit one event, then link the whole chain again as the old (unkeyed) chain was."""
    written = events(world, 4)
    path = anchor(tmp_path)
    tamper("UPDATE audit_auditevent SET actor_username = 'mallory' WHERE id = %s",
           [written[1].pk])
    prev = GENESIS
    for event in AuditEvent.objects.filter(organisation=world.org).order_by("seq"):
        payload = json.dumps(event.chained_fields(), sort_keys=True, separators=(",", ":"),
                             default=str)
        digest = hashlib.sha256((prev + "|" + payload).encode()).hexdigest()
        tamper("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
               [prev, digest, event.pk])
        prev = digest
    ok, out = verify()
    assert not ok
    assert f"BROKEN: {world.org.name}: event #1 " in out
    assert "content does not match its hash" in out
    ok, out = verify("--anchor", str(path))
    assert not ok and "the chain was rewritten" in out


def test_an_event_written_outside_the_chain_fails_verify(world):
    events(world, 2)
    AuditEvent.objects.create(organisation=world.org, action="read")  # no place, no hash
    ok, out = verify()
    assert not ok and "stored outside the chain" in out


@pytest.mark.parametrize(("text", "message"), [
    ("not json\n", "line 1: not JSON"),
    ('{"organisation": 1, "seq": 0, "hash": "' + "a" * 64 + '"}\n', "'seq' must be"),
    ('{"organisation": "x", "seq": 2, "hash": "' + "a" * 64 + '"}\n', "'organisation' must"),
    ('{"organisation": 1, "seq": 2, "hash": "short"}\n', "'hash' must be"),
    ("[1, 2]\n", "not an anchor"),
    ("\n", "holds no anchors"),
])
def test_a_bad_anchor_file_is_refused_saying_what_is_wrong(world, tmp_path, text, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    ok, out = verify("--anchor", str(path))
    assert not ok and message in out


def test_a_missing_anchor_file_is_refused_by_name(world, tmp_path):
    ok, out = verify("--anchor", str(tmp_path / "nowhere.jsonl"))
    assert not ok and "Cannot read the anchor file" in out and "nowhere.jsonl" in out


def test_an_anchor_naming_an_organisation_that_is_gone_fails(world, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"organisation": 987654, "seq": 1, "hash": "a" * 64}) + "\n")
    ok, out = verify("--anchor", str(path))
    assert not ok and "organisation 987654 of the anchor no longer exists" in out


def plain_chain(world, n):
    """Events as the chain stored them before it was keyed (plain SHA-256 links)."""
    written = events(world, n)
    prev = GENESIS
    for event in written:
        digest = rekey.plain(prev, rekey.fields(event))
        tamper("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
               [prev, digest, event.pk])
        prev = digest
    return written


def migrate_forwards():
    rekey.forwards(apps, SimpleNamespace(connection=connection))


def test_the_migration_links_the_old_chains_again_with_the_key(world):
    written = plain_chain(world, 5)
    assert not verify()[0]  # the keyed verify does not take plain links
    migrate_forwards()
    assert verify()[0]
    last = AuditEvent.objects.get(pk=written[-1].pk)
    head = ChainHead.objects.get(organisation=world.org)
    assert (head.seq, head.hash) == (last.seq, last.hash)
    assert trail.record(organisation=world.org, action="read").seq == last.seq + 1
    assert verify()[0]


def test_the_migration_leaves_a_break_in_an_old_chain_where_it_was(world):
    """Re-linking stops at the first broken link, so it cannot hide tampering done before."""
    written = plain_chain(world, 5)
    tamper("UPDATE audit_auditevent SET role = 'x' WHERE id = %s", [written[2].pk])
    migrate_forwards()
    [(_org, broken)] = trail.verify()
    assert broken.seq == written[2].seq
    head = ChainHead.objects.get(organisation=world.org)
    assert head.seq == written[-1].seq  # new events go after the last one, not over it
    assert trail.record(organisation=world.org, action="read").seq == written[-1].seq + 1
