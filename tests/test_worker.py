"""`tandem worker`: two worker processes on one PostgreSQL never run the same task twice; a task
whose worker died is run again, a set number of times, and then shown as failed."""

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tandem.monitoring import leases
from tandem.monitoring.models import WorkerHeartbeat
from tests.worker_probe import probe

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_run_the_same_task(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("several workers at once is a PostgreSQL deployment")
    out = tmp_path / "runs.txt"
    count = 150
    for n in range(count):
        probe.enqueue(n, str(out))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "TANDEM_TEST_DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-m", "tandem.cli", "worker", "--batch",
                                 "--no-sweep"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
               for _ in range(2)]
    for w in workers:
        output, _ = w.communicate(timeout=120)
        assert w.returncode == 0, output.decode()[-2000:]
    runs = [line.split() for line in out.read_text().splitlines()]
    numbers = sorted(int(n) for n, _ in runs)
    assert numbers == list(range(count)), "a task ran twice or not at all"
    assert len({pid for _, pid in runs}) == 2, "both workers took tasks"
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == count
    assert all(len(t.worker_ids) == 1 for t in DBTaskResult.objects.all())


# --- a worker killed mid-task (kill -9): its task is retried, then given up -------------------

LEASE = "3"  # seconds: short, so the tests need not wait minutes (beats every 0.75 s)


@pytest.fixture
def worker_env(tmp_path):
    """Environment for worker subprocesses on their own migrated database: a SQLite file, or a
    fresh PostgreSQL database beside the test one (the test's own database is not shared)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=str(ROOT),
               TANDEM_DATA_DIR=str(tmp_path / "data"), TANDEM_WORKER_LEASE_SECONDS=LEASE)
    pg_url = os.environ.get("TANDEM_TEST_DATABASE_URL")
    made = None
    if pg_url:
        import psycopg

        base = pg_url.rsplit("/", 1)[0]
        made = f"tandem_worker_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{made}"')
        env["TANDEM_TEST_DATABASE_URL"] = f"{base}/{made}"
    subprocess.run([*TANDEM, "migrate", "-v0"], env=env, check=True, timeout=300)
    yield env
    if made:
        import psycopg

        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{made}" WITH (FORCE)')


TANDEM = [sys.executable, "-m", "tandem.cli"]


def django_code(env, code: str) -> str:
    """Run `code` in a subprocess against the workers' database; return what it printed."""
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + code],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def tasks_in(env) -> list[list]:
    return json.loads(django_code(env, (
        "import json\nfrom django_tasks_db.models import DBTaskResult as T\n"
        "print(json.dumps([[t.status, len(t.worker_ids)] for t in T.objects.all()]))")))


def start_worker(env, *extra):
    return subprocess.Popen([*TANDEM, "worker", "--no-sweep", "--interval", "0.2", *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_for_lines(path, text, count, worker, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if sum(line.startswith(text) for line in lines) >= count:
            return lines
        if worker.poll() is not None:
            pytest.fail(f"the worker stopped: {worker.stdout.read()[-2000:]}")
        time.sleep(0.1)
    worker.kill()
    pytest.fail(f"no {count} '{text}' lines in {timeout}s: {worker.communicate()[0][-2000:]}")


def kill_hard(worker):
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)


def test_a_task_whose_worker_was_killed_is_run_again_by_another_worker(worker_env, tmp_path):
    out = tmp_path / "stall.txt"
    django_code(worker_env, f"from tests.worker_probe import stall\nstall.enqueue({str(out)!r}, "
                            "once=True)")
    first = start_worker(worker_env)
    wait_for_lines(out, "started", 1, first)
    kill_hard(first)
    assert tasks_in(worker_env) == [["RUNNING", 1]], "kill -9 mid-task leaves it running"

    second = start_worker(worker_env)
    lines = wait_for_lines(out, "done", 1, second)
    second.send_signal(signal.SIGTERM)
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output
    assert [line.split()[0] for line in lines] == ["started", "started", "done"]
    assert lines[1].split()[1] == lines[2].split()[1] == str(second.pid)
    assert tasks_in(worker_env) == [["SUCCESSFUL", 2]]
    assert "queued again (attempt 2 of 3)" in output


def test_a_task_that_keeps_losing_its_worker_is_given_up_and_shown(worker_env, tmp_path):
    env = {**worker_env, "TANDEM_WORKER_MAX_ATTEMPTS": "2"}
    out = tmp_path / "stall.txt"
    django_code(env, f"from tests.worker_probe import stall\nstall.enqueue({str(out)!r})")
    for attempt in (1, 2):
        worker = start_worker(env)
        wait_for_lines(out, "started", attempt, worker)
        kill_hard(worker)
    assert tasks_in(env) == [["RUNNING", 2]]

    time.sleep(float(LEASE) + 1)  # the second worker's lease runs out
    last = subprocess.run([*TANDEM, "worker", "--no-sweep", "--batch"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert last.returncode == 0, last.stdout + last.stderr
    assert "given up after 2 attempts" in last.stdout + last.stderr
    assert tasks_in(env) == [["FAILED", 2]]
    assert len(out.read_text().splitlines()) == 2, "not run a third time"

    status = subprocess.run([*TANDEM, "worker", "--status"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert "0 queued, 0 running, 1 failed" in status.stdout
    assert "tests.worker_probe.stall" in status.stdout
    assert "its worker stopped" in status.stdout


def test_a_live_worker_keeps_its_task_however_long_it_runs(worker_env, tmp_path):
    """The heartbeat goes on while a task runs longer than the lease: a second worker polling
    all the while does not take the task, so it runs once."""
    out = tmp_path / "stall.txt"
    django_code(worker_env, f"from tests.worker_probe import stall\nstall.enqueue({str(out)!r}, "
                            f"seconds={3 * float(LEASE)})")
    first = start_worker(worker_env)
    wait_for_lines(out, "started", 1, first)
    second = start_worker(worker_env)
    lines = wait_for_lines(out, "done", 1, first)
    for worker in (first, second):
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, output
        assert "stopped while running it" not in output
    assert [line.split()[0] for line in lines] == ["started", "done"]
    assert tasks_in(worker_env) == [["SUCCESSFUL", 1]]


# --- leases in one process -----------------------------------------------------------------


def running_task(worker_ids, *, started_ago=0):
    result = probe.enqueue(1, "/dev/null")
    DBTaskResult.objects.filter(pk=result.id).update(
        status="RUNNING", worker_ids=worker_ids,
        started_at=timezone.now() - datetime.timedelta(seconds=started_ago))
    return DBTaskResult.objects.get(pk=result.id)


def seen(worker_id, ago):
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id, defaults={"last_seen": timezone.now() - datetime.timedelta(
            seconds=ago)})


@pytest.mark.django_db
def test_only_tasks_of_workers_unseen_for_the_lease_are_recovered(settings):
    settings.WORKER_LEASE_SECONDS = 60
    seen("alive", 10)
    seen("dead", 61)
    alive = running_task(["alive"], started_ago=600)
    dead = running_task(["dead"], started_ago=5)
    unknown_old = running_task(["gone"], started_ago=61)  # no heartbeat: judged by its start
    unknown_new = running_task(["new"], started_ago=5)
    recovered = leases.recover_orphans()
    assert {r.task.pk for r in recovered} == {dead.pk, unknown_old.pk}
    status = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert status == {alive.pk: "RUNNING", dead.pk: "READY", unknown_old.pk: "READY",
                      unknown_new.pk: "RUNNING"}
    assert list(WorkerHeartbeat.objects.values_list("pk", flat=True)) == ["alive"]
    assert DBTaskResult.objects.get(pk=dead.pk).worker_ids == ["dead"], "attempts are kept"


@pytest.mark.django_db
def test_after_the_last_attempt_the_task_fails_and_status_lists_it(settings):
    settings.WORKER_LEASE_SECONDS = 60
    settings.WORKER_MAX_ATTEMPTS = 3
    again = running_task(["w1", "w2"], started_ago=120)
    last = running_task(["w1", "w2", "w3"], started_ago=120)
    recovered = leases.recover_orphans()
    assert {(r.task.pk, r.given_up) for r in recovered} == {(again.pk, False), (last.pk, True)}
    last.refresh_from_db()
    assert last.status == "FAILED" and last.finished_at is not None
    assert last.exception_class_path == leases.WORKER_DIED
    out = StringIO()
    call_command("worker", "--status", stdout=out)
    text = out.getvalue()
    assert "Tasks: 1 queued, 0 running, 1 failed, 0 finished in the last 24 hours." in text
    assert f"{last.pk} tests.worker_probe.probe (given up)" in text
    assert "after 3 attempt(s)" in text and "its worker stopped while running it" in text


@pytest.mark.django_db
def test_status_shows_a_task_that_failed_with_its_error():
    result = probe.enqueue(1, "/dev/null")
    DBTaskResult.objects.get(pk=result.id).set_failed(ValueError("no such patient"))
    out = StringIO()
    call_command("worker", "--status", stdout=out)
    assert "ValueError: no such patient" in out.getvalue()
    assert "(given up)" not in out.getvalue()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf"])
def test_a_bad_lease_setting_is_refused_naming_it(monkeypatch, value):
    monkeypatch.setenv("TANDEM_WORKER_LEASE_SECONDS", value)
    with pytest.raises(ValueError, match="TANDEM_WORKER_LEASE_SECONDS"):
        leases.lease_seconds()


@pytest.mark.django_db(transaction=True)
def test_a_task_another_worker_is_recovering_is_skipped(settings):
    """Two live workers never both recover one task: the one that holds the row's lock
    recovers it, the other skips it (PostgreSQL's SKIP LOCKED; SQLite serialises writers)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    settings.WORKER_LEASE_SECONDS = 60
    task = running_task(["dead"], started_ago=120)
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            DBTaskResult.objects.select_for_update().get(pk=task.pk)
            locked.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(30)
        assert leases.recover_orphans() == []
        assert DBTaskResult.objects.get(pk=task.pk).status == "RUNNING"
    finally:
        release.set()
        thread.join()
    assert [r.task.pk for r in leases.recover_orphans()] == [task.pk]


# --- the database restarts under a live worker ---------------------------------------------

POSTGRESQL_SERVER = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a database server that restarts and drops its connections is PostgreSQL's")


def drop_connections(database: str, admin_url: str) -> None:
    """What a restart of PostgreSQL does to the clients of `database`: ends their sessions."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = %s AND pid <> pg_backend_pid()", [database])


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@POSTGRESQL_SERVER
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_connects_again_after_the_database_dropped_its_connection(monkeypatch):
    """After a restart of PostgreSQL the heartbeat thread's connection is dead: the thread
    connects afresh, so the worker's heartbeat stays fresh (and its task stays its own)."""
    backends = []
    real = leases.Heartbeat.beat

    def beat(self):
        real(self)
        backends.append(connection.connection.info.backend_pid)

    monkeypatch.setattr(leases.Heartbeat, "beat", beat)
    with leases.Heartbeat("w1", every=0.1):
        assert wait_until(lambda: len(backends) >= 3)  # the thread's own connection beats
        before = backends[-1]
        with connection.cursor() as cursor:  # as a restart would: the server ends it
            cursor.execute("SELECT pg_terminate_backend(%s)", [before])
        dropped_at = timezone.now()
        assert wait_until(lambda: WorkerHeartbeat.objects.get(pk="w1").last_seen > dropped_at), \
            "no heartbeat since the database dropped the connection"
        assert backends[-1] != before  # on a new connection


@POSTGRESQL_SERVER
def test_a_worker_lives_through_a_restart_of_the_database(worker_env, tmp_path):
    """The database refuses connections for a few seconds and drops those it had: the worker
    waits, connects again, keeps its heartbeat fresh and runs the next task."""
    import psycopg

    url = worker_env["TANDEM_TEST_DATABASE_URL"]
    base, name = url.rsplit("/", 1)
    admin = base + "/postgres"
    worker = start_worker(worker_env, "-v2")
    try:
        assert wait_until(lambda: "Worker" in django_code(worker_env, (
            "from tandem.monitoring.models import WorkerHeartbeat as H\n"
            "print('Worker' if H.objects.exists() else '')"))), "the worker never beat"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            drop_connections(name, admin)
            time.sleep(3)  # the worker's rounds and beats fail meanwhile
            assert worker.poll() is None, f"the worker stopped: {worker.stdout.read()[-3000:]}"
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        back = time.time()
        out = tmp_path / "after.txt"
        django_code(worker_env, f"from tests.worker_probe import probe\n"
                                f"probe.enqueue(7, {str(out)!r})")
        assert wait_until(out.exists, timeout=30), "the task queued after the restart never ran"
        seen_since = django_code(worker_env, (
            "from tandem.monitoring.models import WorkerHeartbeat as H\n"
            "print(max(h.last_seen.timestamp() for h in H.objects.all()))"))
        assert float(seen_since) > back
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output[-3000:]


@POSTGRESQL_SERVER
def test_a_task_whose_end_was_lost_with_the_database_is_run_again(worker_env, tmp_path):
    """The database drops the worker's connections while a task runs, so the task's end is
    never saved: the worker (alive, its heartbeat fresh) puts the task back and runs it again,
    rather than leaving it RUNNING in its name for ever."""
    base, name = worker_env["TANDEM_TEST_DATABASE_URL"].rsplit("/", 1)
    out = tmp_path / "stall.txt"
    django_code(worker_env, f"from tests.worker_probe import stall\nstall.enqueue({str(out)!r}, "
                            "once=True, seconds=3)")
    worker = start_worker(worker_env)
    try:
        wait_for_lines(out, "started", 1, worker)
        drop_connections(name, base + "/postgres")
        assert wait_until(lambda: tasks_in(worker_env)[0][0] != "RUNNING", timeout=30), \
            "the task stayed RUNNING"
        assert tasks_in(worker_env) == [["SUCCESSFUL", 2]]
        lines = out.read_text().splitlines()
        assert [line.split()[0] for line in lines] == ["started", "done", "started", "done"]
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output[-3000:]
