from django.core.management.base import BaseCommand

from tandem.web import backups


class Command(BaseCommand):
    help = ("Back up the database to FILE: SQLite's online backup API, or pg_dump (custom "
            "format) for PostgreSQL. Safe while Tandem is running.")

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **opts):
        backups.backup(opts["file"])
        self.stdout.write(f"Backed up to {opts['file']}.")
