"""The `tandem` command. Each verb is a Django management command; `tandem VERB --help`."""

from __future__ import annotations

import os
import sys

VERBS = {
    "serve": ("serve", "apply migrations and serve Tandem with gunicorn"),
    "demo": ("demo", "create the demo service (Riverside Recovery Service) and synthetic patients"),
    "worker": ("worker", "run background tasks: flag evaluation, the nightly sweep, schedules"),
    "migrate": ("migrate", "apply database migrations"),
    "createadmin": ("createadmin", "create a service admin (and the organisation if needed)"),
    "token": ("token", "create, list or revoke API bearer tokens"),
    "backup": ("backup", "back up the database to a file"),
    "restore": ("restore", "restore the database from a backup file"),
    "check": ("deploycheck", "run Django's deployment checks; non-zero exit on any warning"),
    "audit": ("audit", "verify the audit trail's hash chain"),
    "manage": (None, "run any Django management command (for maintainers)"),
}


def usage() -> str:
    lines = ["usage: tandem VERB [options]   (tandem VERB --help for each verb)", "", "verbs:"]
    lines += [f"  {verb:<12} {text}" for verb, (_cmd, text) in VERBS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"tandem: unknown verb {verb!r}\n\n{usage()}", file=sys.stderr)
        raise SystemExit(2)
    if verb == "demo":  # messages stay local files; links may use the request's address
        os.environ.setdefault("TANDEM_DEMO", "1")
    if verb == "demo" and "--serve" in rest:
        # The local demo is served over plain http: no HTTPS-only cookies or redirect.
        os.environ.setdefault("TANDEM_HTTPS", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    from django.core.management import execute_from_command_line

    command = VERBS[verb][0]
    if command is None:
        execute_from_command_line(["tandem manage", *rest])
    else:
        execute_from_command_line(["tandem", command, *rest])


if __name__ == "__main__":  # pragma: no cover
    main()
