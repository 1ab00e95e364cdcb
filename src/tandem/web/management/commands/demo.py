import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tandem.demo.load import ACCOUNTS, PORTAL_ACCOUNTS, load
from tandem.outbox import services as outbox
from tandem.outbox.models import Channel, Message, Status
from tandem.reminders import planner
from tandem.reminders.letters import letters_pdf
from tandem.web.management.commands.serve import serve


class Command(BaseCommand):
    help = ("Create the demo service 'Riverside Recovery Service' with its demo accounts and N "
            "synthetic patients. Running it again tops up; it never duplicates.")

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=40, help="synthetic patients (40)")
        parser.add_argument("--password", help="password for every demo account (default: "
                            "random, printed; existing accounts keep theirs)")
        parser.add_argument("--serve", action="store_true", help="then serve on port 8000")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **opts):
        if opts["patients"] < 0:
            raise CommandError("--patients must be 0 or more")
        call_command("migrate", interactive=False, verbosity=0)
        started = time.perf_counter()
        result = load(opts["patients"], password=opts["password"])
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"{result.organisation.name}: {result.created_patients} new synthetic patients "
            f"({result.rows} rows in {seconds:.1f} s)."
        )
        # Today's reminders, and what may go now, through the demo's files (it runs no
        # worker; `tandem worker` beside it sends the rest in each patient's window).
        planned = planner.plan_day(site=settings.SITE_URL or f"http://{opts['host']}:{opts['port']}")
        sent = outbox.send_due(paces={})
        letters = self.letters_to_disk()
        self.stdout.write(
            f"Reminders today: {planned['planned']} planned, {sent['sent']} sent now (texts in "
            f"{settings.OUTBOX_DIR / 'sms'}, emails in {settings.OUTBOX_DIR / 'email'}, "
            f"letters on the Letters to post page{letters}).")
        self.stdout.write("Demo accounts:")
        for username in [a[0] for a in ACCOUNTS] + list(PORTAL_ACCOUNTS):
            password = result.passwords.get(username, "(unchanged)")
            self.stdout.write(f"  {username:<12} {password}")
        if opts["serve"]:
            call_command("collectstatic", interactive=False, verbosity=0)
            self.stdout.write(f"Open http://{opts['host']}:{opts['port']}/ and sign in.")
            serve(opts["host"], opts["port"], 2, self.stdout)

    def letters_to_disk(self) -> str:
        """The letters waiting to be posted, also as one PDF in TANDEM_OUTBOX_DIR/letters (the
        demo's file backend for letters; still waiting on the page, as in a service)."""
        waiting = list(Message.objects.filter(channel=Channel.LETTER, status=Status.QUEUED)
                       .exclude(recipient="").select_related("patient").order_by("created_at"))
        if not waiting:
            return ""
        folder = Path(settings.OUTBOX_DIR) / "letters"
        try:
            document = letters_pdf(waiting)
        except (ImportError, OSError):  # no Pango here (README): the page still lists them
            return ""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"letters-{timezone.localdate():%Y-%m-%d}.pdf"
        path.write_bytes(document)
        return f", and in {path}"
