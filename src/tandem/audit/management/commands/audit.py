import json

from django.core.management.base import BaseCommand, CommandError

from tandem.audit import trail
from tandem.audit.models import AuditEvent

HASH_LENGTH = 64


class Command(BaseCommand):
    help = ("Audit trail tools. `tandem audit verify` checks every hash link (and, with "
            "--anchor, that no chain lost or changed what an anchor recorded); `tandem audit "
            "anchor` writes each chain's last event down, to keep somewhere else.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser(
            "verify", help="report the first broken link of each chain; exit 1 if any")
        verify.add_argument(
            "--anchor", metavar="FILE",
            help="an anchor written earlier by `tandem audit anchor`: also fail if a chain is "
                 "shorter than it, or holds another event where it anchored one")
        anchor = sub.add_parser(
            "anchor", help="write the last event of each organisation's chain as JSON lines")
        anchor.add_argument("--output", metavar="FILE",
                            help="the file to write (default: standard output)")

    def handle(self, *args, **opts):
        if opts["action"] == "anchor":
            return self.anchor(opts["output"])
        anchors = read_anchors(opts["anchor"]) if opts["anchor"] else []
        problems = trail.verify()
        for org, broken in problems:
            where = f"event #{broken.seq}" if broken.seq is not None else "an event"
            ident = f" (id {broken.ident})" if broken.ident is not None else ""
            self.stdout.write(f"BROKEN: {org.name}: {where}{ident}: {broken.reason}")
        lost = trail.check_anchors(anchors)
        for problem in lost:
            self.stdout.write(f"NOT AS ANCHORED: {problem}")
        if problems:
            raise CommandError("The audit trail has been altered.")
        if lost:
            raise CommandError(f"The audit trail no longer holds what {opts['anchor']} "
                               "anchored: events were removed or rewritten.")
        count = AuditEvent.objects.count()
        against = f"; every anchor of {opts['anchor']} holds" if anchors else ""
        self.stdout.write(f"OK: {count} audit events verified; every link holds{against}.")

    def anchor(self, output):
        lines = "".join(json.dumps(head) + "\n" for head in trail.heads())
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(lines)
            count = lines.count("\n")
            self.stderr.write(f"Anchored {count} chain{'' if count == 1 else 's'} in {output}.")
        else:
            self.stdout.write(lines, ending="")


def read_anchors(path: str) -> list[dict]:
    """The anchors of a file `tandem audit anchor` wrote, each checked, or a clear error."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise CommandError(f"Cannot read the anchor file {path}: {error.strerror}.") from error
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            anchor = json.loads(line)
        except ValueError:
            raise CommandError(f"{path}, line {number}: not JSON.") from None
        if not isinstance(anchor, dict):
            raise CommandError(f"{path}, line {number}: not an anchor (a JSON object).")
        for field in ("organisation", "seq"):
            if type(anchor.get(field)) is not int or anchor[field] < 1:
                raise CommandError(f"{path}, line {number}: '{field}' must be a whole number "
                                   "of 1 or more.")
        digest = anchor.get("hash")
        if not isinstance(digest, str) or len(digest) != HASH_LENGTH:
            raise CommandError(f"{path}, line {number}: 'hash' must be the 64-character hash "
                               "of an event.")
        anchors.append(anchor)
    if not anchors:
        raise CommandError(f"{path} holds no anchors.")
    return anchors
