"""Tasks for the worker tests.

`probe` appends its number to a file, so a task run twice shows up twice. `stall` writes
"started PID" and then sleeps (the first time only with `once`), so a test can kill its worker
mid-task; a run that finishes writes "done PID"."""

import os
import time

from django_tasks import task


@task()
def probe(n: int, path: str) -> int:
    time.sleep(0.01)
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{n} {os.getpid()}\n")
    return n


@task()
def stall(path: str, once: bool = False, seconds: float = 600) -> str:
    first = not os.path.exists(path)
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"started {os.getpid()}\n")
    if first or not once:
        time.sleep(seconds)
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"done {os.getpid()}\n")
    return "done"
