from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tandem.accounts.models import ApiToken, User
from tandem.audit import trail
from tandem.audit.actor import COMMAND_LINE


class Command(BaseCommand):
    help = ("API bearer tokens: create (prints the token once), list, revoke. Creating and "
            "revoking are recorded in the audit trail (role: command line).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token for USERNAME and print it")
        create.add_argument("username")
        create.add_argument("--name", default="", help="what the token is for")
        listing = sub.add_parser("list", help="list tokens (never their values)")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="revoke the token with this prefix")
        revoke.add_argument("prefix")

    def handle(self, *args, **opts):
        getattr(self, opts["action"])(opts)

    def create(self, opts):
        user = User.objects.filter(username=opts["username"], is_active=True).first()
        if user is None or user.organisation_id is None:
            raise CommandError(f"No active user {opts['username']!r} in an organisation.")
        with transaction.atomic():
            token, plain = ApiToken.issue(user, opts["name"])
            trail.record(organisation=user.organisation_id, action="create", role=COMMAND_LINE,
                         obj=token, detail=f"API token {token.prefix} created for "
                                            f"{user.username}" + (f": {token.name}"
                                                                  if token.name else ""))
        self.stdout.write(plain)

    def list(self, opts):
        tokens = ApiToken.objects.select_related("user").order_by("created_at")
        if opts["username"]:
            tokens = tokens.filter(user__username=opts["username"])
        for t in tokens:
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            self.stdout.write(f"{t.prefix}  {t.user.username:<16} {state:<18} {t.name}")

    def revoke(self, opts):
        with transaction.atomic():
            tokens = (ApiToken.objects.select_for_update().select_related("user")
                      .filter(prefix=opts["prefix"], revoked_at__isnull=True))
            found = list(tokens[:2])
            if len(found) != 1:
                raise CommandError(f"No single active token with prefix {opts['prefix']!r}.")
            token = found[0]
            token.revoke()
            trail.record(organisation=token.organisation_id, action="update", role=COMMAND_LINE,
                         obj=token, detail=f"revoked: API token {token.prefix} of "
                                            f"{token.user.username}")
        self.stdout.write(f"Revoked token {opts['prefix']}.")
