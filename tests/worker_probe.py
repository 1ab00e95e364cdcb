"""A task for the two-workers test: it appends its number to a file, so a task run twice
shows up twice."""

import os
import time

from django_tasks import task


@task()
def probe(n: int, path: str) -> int:
    time.sleep(0.01)
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{n} {os.getpid()}\n")
    return n
