import getpass
import sys

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from tandem.accounts.changes import differences
from tandem.accounts.models import Organisation, Role, RoleGrant, User
from tandem.audit import trail
from tandem.audit.actor import COMMAND_LINE


class Command(BaseCommand):
    help = ("Create a service admin, and the organisation if it does not exist yet. Recorded "
            "in the audit trail (role: command line).")

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--organisation", required=True, help="the service's name")
        parser.add_argument("--email", required=True,
                            help="where their password reset links go (every staff account "
                                 "has one)")
        parser.add_argument("--password", help="otherwise asked for (twice) on the terminal")

    @transaction.atomic
    def handle(self, *args, **opts):
        if User.objects.filter(username__iexact=opts["username"]).exists():
            raise CommandError(f"A user called {opts['username']!r} already exists.")
        try:
            validate_email(opts["email"])
        except ValidationError:
            raise CommandError(f"--email: {opts['email']!r} is not an email address.") from None
        password = opts["password"]
        if password is None:
            if not sys.stdin.isatty():
                raise CommandError("Give --password, or run on a terminal to be asked.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password again: "):
                raise CommandError("The passwords do not match.")
        org, created = Organisation.objects.get_or_create(name=opts["organisation"])
        user = User(username=opts["username"], email=opts["email"], organisation=org)
        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            raise CommandError("Password: " + " ".join(error.messages)) from None
        user.set_password(password)
        user.save()
        RoleGrant.objects.create(organisation=org, user=user, role=Role.SERVICE_ADMIN)
        trail.record(organisation=org, action="create", role=COMMAND_LINE, obj=user,
                     detail="created: " + "; ".join(differences([
                         ("roles", None, [Role.SERVICE_ADMIN.value]), ("email", None, user.email),
                         ("username", None, user.username)])))
        what = "new organisation" if created else "organisation"
        self.stdout.write(f"Created service admin {user.username} for {what} {org.name}.")
