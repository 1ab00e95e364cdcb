"""Organisations, teams, people and the roles they hold; API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from tandem.records.models import TenantQuerySet, Versioned


class Organisation(models.Model):
    """A treatment service (FHIR Organization). Every tenant-scoped row carries one."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Team(Versioned):
    # Not a TenantModel: its key is a number, and its organisation names it `teams`.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(max_length=200)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="team_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    PRACTITIONER = "practitioner", "Practitioner"
    PRESCRIBER = "prescriber", "Prescriber"
    TEAM_LEAD = "team_lead", "Team lead"
    SERVICE_ADMIN = "service_admin", "Service admin"
    SERVICE_MANAGER = "service_manager", "Service manager"
    AUDITOR = "auditor", "Auditor"


USERNAME_ANY_CASE = "username_any_case"
USERNAME_TAKEN = "A user with that username already exists, in any mix of capitals."


class User(AbstractUser, Versioned):
    """A person who signs in. Staff and patients alike; what they may do comes from roles.

    Every save of the staff form moves `version` on (Versioned), so a form opened before
    another admin's save saves nothing; roles and teams are compared too. The manager stays
    Django's UserManager, which migrations name: there is no `User.objects.of()`."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="users", null=True
    )
    # An admin's change of the address, and the last link to set a password: a reset is not
    # sent to an address an admin changed less than a day ago, the person is told of both at
    # their next sign-in, and the audit trail says where a password came from.
    email_changed_at = models.DateTimeField(null=True, blank=True)
    email_changed_from = models.EmailField(blank=True)
    link_sent_at = models.DateTimeField(null=True, blank=True)
    link_sent_by = models.CharField(max_length=150, blank=True,
                                    help_text="the admin who asked; empty for a new account")

    class Meta(AbstractUser.Meta):
        # "Sam" and "sam" would be one person to whoever types them (sign-in looks usernames
        # up as typed; the portal's pages compare them without case).
        constraints = [models.UniqueConstraint(
            Lower("username"), name="accounts_user_username_any_case",
            violation_error_code=USERNAME_ANY_CASE, violation_error_message=USERNAME_TAKEN)]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def validate_constraints(self, exclude=None):
        """As Django's, but a username taken in other capitals is an error of the username
        field (a form shows it by the field), not of the whole form."""
        try:
            super().validate_constraints(exclude)
        except ValidationError as error:
            errors = error.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            errors.setdefault("username", []).extend(
                e for e in general if e.code == USERNAME_ANY_CASE)
            rest = [e for e in general if e.code != USERNAME_ANY_CASE]
            if rest:
                errors[NON_FIELD_ERRORS] = rest
            raise ValidationError({k: v for k, v in errors.items() if v}) from None

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


def mixed_accounts(user_ids) -> list[int]:
    """Of these users, those holding both a patient grant and a staff grant."""
    patients = RoleGrant.objects.filter(role=Role.PATIENT, user_id__in=user_ids)
    return sorted(set(
        RoleGrant.objects.exclude(role=Role.PATIENT)
        .filter(user_id__in=patients.values("user_id")).values_list("user_id", flat=True)))


def _refuse_mixed(user_ids) -> None:
    mixed = mixed_accounts(user_ids)
    if mixed:
        raise ValidationError(
            "A patient's portal account cannot hold a staff role, and a staff account cannot "
            f"be a patient's portal account (user {', '.join(map(str, mixed))}).")


def lock_users(user_ids) -> None:
    """Lock these users' rows until the transaction ends, in id order (one order for all)."""
    list(User.objects.select_for_update().filter(pk__in=set(user_ids) - {None})
         .order_by("pk").values_list("pk"))


class RoleGrantQuerySet(TenantQuerySet):
    """Bulk paths keep the rule `RoleGrant.save` keeps: with the users' rows locked, checked
    inside the same transaction after the rows are written, so nothing that breaks it is
    committed, and two writes for one user at once cannot both pass."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        with transaction.atomic(using=self.db):
            lock_users({g.user_id for g in objs})
            created = super().bulk_create(objs, *args, **kwargs)
            _refuse_mixed({g.user_id for g in objs})
        return created

    def update(self, **kwargs):
        with transaction.atomic(using=self.db):
            users = set(self.values_list("user_id", flat=True))
            if "user" in kwargs or "user_id" in kwargs:
                users.add(getattr(kwargs.get("user"), "pk", kwargs.get("user_id")))
            lock_users(users)
            count = super().update(**kwargs)
            _refuse_mixed(users)
        return count

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        with transaction.atomic(using=self.db):
            users = {g.user_id for g in objs}
            if "user" in fields or "user_id" in fields:  # and the users they leave
                users |= set(RoleGrant.objects.filter(pk__in=[g.pk for g in objs])
                             .values_list("user_id", flat=True))
            lock_users(users)
            count = super().bulk_update(objs, fields, *args, **kwargs)
            _refuse_mixed(users)
        return count


class RoleGrant(models.Model):
    """One role held by one user, optionally within one team (practitioners, team leads).

    A user is either a patient (the portal account of one patient record) or staff, never
    both: `save` and every bulk path (RoleGrantQuerySet) refuse a grant that would mix them,
    with the user's row locked so two grants written at once cannot both slip through."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(max_length=20, choices=Role.choices)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, null=True, blank=True)

    objects = RoleGrantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "team"],
                condition=models.Q(team__isnull=False),
                name="grant_unique_in_team",
            ),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=models.Q(team__isnull=True),
                name="grant_unique_without_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} ({self.team})" if self.team else self.get_role_display()

    def save(self, *args, **kwargs):
        with transaction.atomic():
            lock_users({self.user_id})
            self.clean()
            super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        if self.user_id is None:
            return
        others = RoleGrant.objects.filter(user_id=self.user_id).exclude(pk=self.pk)
        if self.role == Role.PATIENT and others.exclude(role=Role.PATIENT).exists():
            raise ValidationError({"role": "A staff account cannot be a patient's portal "
                                           "account."})
        if self.role != Role.PATIENT and others.filter(role=Role.PATIENT).exists():
            raise ValidationError({"role": "A patient's portal account cannot hold a staff "
                                           "role."})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 digest is stored."""

    PREFIX_LENGTH = 8

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user: User, name: str = "") -> tuple[ApiToken, str]:
        """Create a token; the plain value is returned once and never stored."""
        # A hex prefix (safe to type as a command-line argument: never starts with "-")
        # identifies the token for `tandem token revoke`; the random rest is the secret.
        prefix = secrets.token_hex(cls.PREFIX_LENGTH // 2)
        plain = f"tdm_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(
            organisation=user.organisation,
            user=user,
            name=name,
            prefix=prefix,
            digest=_digest(plain),
        )
        return token, plain

    @classmethod
    def authenticate(cls, plain: str) -> User | None:
        token = (
            cls.objects.select_related("user")
            .filter(digest=_digest(plain), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            return None
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
