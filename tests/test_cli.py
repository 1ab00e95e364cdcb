"""The `tandem` command: demo, tokens, createadmin in-process; backup/restore, check and audit
verify end to end in subprocesses against their own database (SQLite, or PostgreSQL when
TANDEM_TEST_DATABASE_URL is set)."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tandem.accounts.models import Role, User
from tandem.patients.models import CareTeamMember, Episode, Patient

TANDEM = [sys.executable, "-c", "from tandem.cli import main; main()"]


def test_demo_creates_accounts_and_patients_and_never_duplicates(db, capsys):
    call_command("demo", patients=12, password="demo-pass-123")
    out = capsys.readouterr().out
    assert "12 new synthetic patients" in out and "keyworker    demo-pass-123" in out
    counts = (Patient.objects.count(), Episode.objects.count(), CareTeamMember.objects.count())
    call_command("demo", patients=12)
    assert "0 new synthetic patients" in capsys.readouterr().out
    assert (Patient.objects.count(), Episode.objects.count(),
            CareTeamMember.objects.count()) == counts
    call_command("demo", patients=15)
    assert Patient.objects.count() == 15
    for username in ["admin", "lead", "keyworker", "keyworker2", "prescriber", "auditor",
                     "manager", "patient1", "patient2"]:
        client = Client()
        client.post("/accounts/login/", {"username": username, "password": "demo-pass-123"})
        assert "_auth_user_id" in client.session, username
    patient1 = Patient.objects.get(portal_user__username="patient1")
    assert patient1.care_team.members.filter(user__username="keyworker").exists()
    assert User.objects.get(username="lead").grants.get().role == Role.TEAM_LEAD
    assert User.objects.get(username="manager").grants.get().role == Role.SERVICE_MANAGER
    # Every synthetic patient has exactly one care team and at most one open episode.
    for patient in Patient.objects.prefetch_related("episodes"):
        assert sum(e.is_open for e in patient.episodes.all()) <= 1
        patient.full_clean()


def test_demo_histories_are_varied(db):
    call_command("demo", patients=200, password="demo-pass-123")
    statuses = set(Episode.objects.values_list("status", flat=True))
    assert statuses == {"active", "post-exit-monitoring", "finished"}
    re_entries = [p for p in Patient.objects.prefetch_related("episodes")
                  if len(p.episodes.all()) > 1]
    assert len(re_entries) > 20
    roles = set(CareTeamMember.objects.values_list("role", flat=True))
    assert {"keyworker", "prescriber", "gp", "housing", "family"} <= roles
    assert CareTeamMember.objects.filter(end_date__isnull=False).exists()


def test_token_create_list_revoke(world, capsys):
    call_command("token", "create", "practitioner", "--name", "integration")
    token = capsys.readouterr().out.strip()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/patients").status_code == 200
    call_command("token", "list")
    listing = capsys.readouterr().out
    assert "practitioner" in listing and token not in listing
    prefix = token.split("_")[1]
    assert len(prefix) == 8 and not prefix.startswith("-")
    call_command("token", "revoke", prefix)
    assert client.get("/api/v1/patients").status_code == 401
    with pytest.raises(CommandError):
        call_command("token", "create", "nobody")


def test_createadmin_validates_the_password(db):
    with pytest.raises(CommandError, match="Password"):
        call_command("createadmin", username="boss", organisation="New Service",
                     email="boss@example.org", password="short")
    call_command("createadmin", username="boss", organisation="New Service",
                 email="boss@example.org", password="a-much-longer-passphrase")
    user = User.objects.get(username="boss")
    assert user.organisation.name == "New Service"
    assert user.grants.get().role == Role.SERVICE_ADMIN


# --- end to end, in subprocesses ------------------------------------------------------------


@pytest.fixture
def database_env(tmp_path):
    """Environment for a subprocess with its own empty database; yields a factory."""
    made = []
    pg_url = os.environ.get("TANDEM_TEST_DATABASE_URL")

    def new(name):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TANDEM_", "DJANGO_"))}
        env["TANDEM_DATA_DIR"] = str(tmp_path / name)
        env["TANDEM_SECRET_KEY"] = "cli-test-" + "s" * 40
        if pg_url:
            import psycopg

            db = f"tandem_cli_{name}_{uuid.uuid4().hex[:8]}"
            base = pg_url.rsplit("/", 1)[0]
            with psycopg.connect(base + "/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{db}"')
            made.append((base, db))
            env["TANDEM_DATABASE_URL"] = f"{base}/{db}"
        return env

    yield new
    for base, db in made:
        import psycopg

        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def run(env, *args, ok=True):
    result = subprocess.run([*TANDEM, *args], env=env, capture_output=True, text=True,
                            timeout=300)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def count_patients(env):
    code = "from tandem.patients.models import Patient; print(Patient.objects.count())"
    return int(run(env, "manage", "shell", "--no-imports", "-c", code).stdout.strip())


@pytest.mark.skipif(shutil.which("pg_dump") is None and bool(os.environ.get(
    "TANDEM_TEST_DATABASE_URL")), reason="pg_dump is not installed")
def test_backup_and_restore_round_trip(database_env, tmp_path):
    source = database_env("source")
    run(source, "demo", "--patients", "6", "--password", "demo-pass-123")
    backup = tmp_path / "tandem.backup"
    run(source, "backup", str(backup))
    assert backup.stat().st_size > 0

    target = database_env("target")
    run(target, "restore", str(backup))
    assert count_patients(target) == 6
    assert "OK" in run(target, "audit", "verify").stdout

    refused = run(target, "restore", str(backup), ok=False)
    assert refused.returncode != 0 and "--force" in refused.stderr
    run(target, "restore", str(backup), "--force")
    assert count_patients(target) == 6

    bogus = tmp_path / "bogus.backup"
    bogus.write_text("not a backup")
    assert "not a" in run(target, "restore", str(bogus), "--force", ok=False).stderr


def test_check_passes_in_production_mode_and_fails_in_debug(database_env):
    env = database_env("check")
    env.pop("TANDEM_SECRET_KEY")  # a generated key, as in production
    without_key = run(env, "check", ok=False)  # the audit chain's key beside the database
    assert without_key.returncode != 0 and "audit.W001" in without_key.stdout + without_key.stderr
    env["TANDEM_AUDIT_KEY"] = "cli-audit-" + "a" * 40
    unsent = run(env, "check", ok=False)  # emails to files; reset links from any Host header
    assert "outbox.E001" in unsent.stdout + unsent.stderr
    assert "portal_access.E001" in unsent.stdout + unsent.stderr
    env["TANDEM_EMAIL_HOST"] = "smtp.example.org"
    env["TANDEM_SITE_URL"] = "https://tandem.example.org"
    assert "passed" in run(env, "check").stdout
    env["TANDEM_DEBUG"] = "1"
    assert run(env, "check", ok=False).returncode != 0


def test_help_for_every_verb(database_env):
    env = database_env("help")
    assert "demo" in run(env, "--help").stdout
    for verb in ["serve", "demo", "migrate", "createadmin", "token", "backup", "restore",
                 "check", "audit"]:
        assert "usage:" in run(env, verb, "--help").stdout
    assert run(env, "frobnicate", ok=False).returncode == 2


def test_secret_key_is_generated_once_with_private_permissions(database_env):
    env = database_env("secret")
    env.pop("TANDEM_SECRET_KEY")
    run(env, "migrate")
    key = Path(env["TANDEM_DATA_DIR"]) / "secret_key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    first = key.read_text()
    run(env, "migrate")
    assert key.read_text() == first


def test_serve_applies_migrations_and_serves_pages_and_static_files(database_env):
    import socket
    import time
    import urllib.request

    env = database_env("serve")
    env["TANDEM_HTTPS"] = "0"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([*TANDEM, "serve", "--port", str(port), "--workers", "1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("tandem serve did not answer within a minute")
        with urllib.request.urlopen(base + "/accounts/login/") as response:
            page = response.read().decode()
        assert "Sign in" in page and "gunicorn" in response.headers.get("Server", "")
        css = page.split('href="', 2)[1].split('"')[0]
        assert css.startswith("/static/tandem/tandem.") and css.endswith(".css")  # hashed
        with urllib.request.urlopen(base + css) as response:
            assert response.status == 200 and b"--accent" in response.read()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_large_demo_shows_a_progress_bar(db, capsys):
    call_command("demo", patients=1000, password="demo-pass-123")
    captured = capsys.readouterr()
    assert "1000/1000" in captured.err and "patients" in captured.err
    assert Patient.objects.count() == 1000
