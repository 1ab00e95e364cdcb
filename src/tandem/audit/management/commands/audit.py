from django.core.management.base import BaseCommand, CommandError

from tandem.audit import trail
from tandem.audit.models import AuditEvent


class Command(BaseCommand):
    help = "Audit trail tools. `tandem audit verify` checks every hash link."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="report the first broken link of each chain; exit 1 if any")

    def handle(self, *args, **opts):
        problems = trail.verify()
        for org, broken in problems:
            self.stdout.write(
                f"BROKEN: {org.name}: event #{broken.seq} (id {broken.ident}): {broken.reason}"
            )
        if problems:
            raise CommandError("The audit trail has been altered.")
        count = AuditEvent.objects.count()
        self.stdout.write(f"OK: {count} audit events verified; every link holds.")
