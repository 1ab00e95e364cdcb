"""`pip install .` (the README's first command) ships every file Tandem reads at run time."""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tandem"


def test_every_data_file_is_in_the_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    missing = []
    for path in PACKAGE.rglob("*"):
        if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        # package-data patterns are relative to the package (the folder with __init__.py)
        package = path.parent
        while not (package / "__init__.py").exists():
            package = package.parent
        relative = path.relative_to(package).as_posix()
        if not any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(relative, p.replace("**/", ""))
                   for p in patterns):
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []
