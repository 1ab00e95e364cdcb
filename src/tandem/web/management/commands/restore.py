from django.core.management.base import BaseCommand, CommandError

from tandem.web import backups


class Command(BaseCommand):
    help = ("Restore the database from a file made by `tandem backup`. Refuses to overwrite a "
            "database that holds data unless --force is given. Stop Tandem first.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--force", action="store_true", help="overwrite existing data")

    def handle(self, *args, **opts):
        try:
            backups.restore(opts["file"], force=opts["force"])
        except backups.RestoreRefused as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Restored from {opts['file']}.")
