"""`tandem worker`: two worker processes on one PostgreSQL never run the same task twice."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

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
