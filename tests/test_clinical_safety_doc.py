"""docs/clinical-safety.md stays true: every test it names as proof of a control exists."""

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "clinical-safety.md"


def named_tests() -> list[tuple[str, str]]:
    """(file, test) for every `file.py::test` and following `::test` in the doc."""
    found = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        current = None  # a `::test` belongs to the last file named before it on the line
        for match in re.finditer(r"`(test_\w+\.py)?(?:::(test_\w+))?`", line):
            file, test = match.groups()
            current = file or current
            if test:
                found.append((current, test))
    return found


@functools.cache
def functions_in(file: str) -> set[str]:
    tree = ast.parse((ROOT / "tests" / file).read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_test_the_hazard_log_names_exists():
    named = named_tests()
    assert len(named) > 40
    missing = [f"{file}::{test}" for file, test in named
               if file is None or test not in functions_in(file)]
    assert missing == []


def test_every_test_file_the_hazard_log_names_exists():
    files = set(re.findall(r"`(test_\w+\.py)", DOC.read_text(encoding="utf-8")))
    assert files and all((ROOT / "tests" / f).exists() for f in files)
