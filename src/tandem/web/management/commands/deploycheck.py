from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Django's deployment checks (check --deploy) under the current production settings; "
            "exits non-zero on any warning.")

    def handle(self, *args, **opts):
        call_command("check", deploy=True, fail_level="WARNING")
        self.stdout.write("Deployment checks passed.")
