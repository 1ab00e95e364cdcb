"""Giving a patient a portal login, and keeping it: invitations, activation, suspension and
password resets. Each function takes the `Actor` doing it (a member of staff, or, on the
public pages, the anonymous visitor) and records what it did on the patient's audit trail.

Nothing here says whether an account exists to someone who is not signed in: the public
pages word every refusal the same way.
"""

from __future__ import annotations

import datetime
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tandem.accounts.models import Role, RoleGrant, User
from tandem.audit import trail
from tandem.audit.actor import Actor
from tandem.outbox import naming, sms
from tandem.outbox import services as outbox
from tandem.outbox.models import Channel, Message
from tandem.patients.models import Patient
from tandem.portal_access.models import (
    WRONG_BIRTH_DATES,
    Invitation,
    ResetCode,
    Throttle,
    digest,
    new_code,
    normalise_code,
    show_code,
)

log = logging.getLogger(__name__)

RESET_CODE_MINUTES = 15
RESET_CODE_TRIES = 5  # wrong codes one code takes before it stops working
RESET_PAUSE = datetime.timedelta(minutes=1)  # a patient's own resets: one a minute per account
RESETS_A_DAY = 5  # ... and five a day, by email and text together
WRONG_RESET_CODES = 10  # an account's wrong codes in a day, after which codes stop working
DAY = datetime.timedelta(days=1)
# What one client address may do on the public pages in one THROTTLE_WINDOW.
THROTTLE_WINDOW = datetime.timedelta(hours=1)
THROTTLES = {"join-code": 20,  # wrong invitation codes typed at /join/
             "forgot": 10,  # resets asked for at /join/forgot/
             "reset-code": 20}  # wrong reset codes typed at /join/reset/code/
TOO_MANY = ("Too many tries from this connection. Wait an hour, then try again, or ask your "
            "keyworker.")
CHANNEL_WORDS = {Channel.EMAIL: "email", Channel.SMS: "text message", Channel.LETTER: "letter"}


class Refused(Exception):
    """What was asked cannot be done; `str()` says why, in words for the page, and `field`
    names the form field it is about (or "")."""

    def __init__(self, words: str, field: str = "", reason: str = ""):
        super().__init__(words)
        self.field = field
        self.reason = reason or words


# --- who may be sent what ----------------------------------------------------------------


def channels(patient: Patient) -> dict[str, str | None]:
    """Each channel, with why it cannot be used for this patient (None: it can)."""
    return {Channel.EMAIL: channel_problem(patient, Channel.EMAIL),
            Channel.SMS: channel_problem(patient, Channel.SMS),
            Channel.LETTER: None}


NOT_TO_BE_CONTACTED = ("\"Do not contact\" is recorded in the patient's details: nothing is "
                       "sent to them. Print a letter to hand over in person instead.")


def channel_problem(patient: Patient, channel: str) -> str | None:
    if channel in (Channel.EMAIL, Channel.SMS) and patient.do_not_contact:
        return NOT_TO_BE_CONTACTED
    if channel == Channel.EMAIL:
        if not patient.email:
            return "The patient has no email address on their record."
        if not patient.agrees_to_email:
            return "The patient has not agreed to be emailed (see their details)."
        return None
    if channel == Channel.SMS:
        if sms.problem():
            return sms.problem()
        if not patient.phone:
            return "The patient has no phone number on their record."
        if not patient.agrees_to_sms:
            return "The patient has not agreed to text messages (see their details)."
        return None
    if channel == Channel.LETTER:
        return None
    return "Choose email, text message or letter."


def recipient(patient: Patient, channel: str) -> str:
    return {Channel.EMAIL: patient.email, Channel.SMS: patient.phone}.get(channel, "")


def site_url(request=None) -> str:
    """Where links in messages staff send start: TANDEM_SITE_URL, else the address of this
    (signed-in) request."""
    if settings.SITE_URL:
        return settings.SITE_URL
    return request.build_absolute_uri("/").rstrip("/") if request is not None else ""


def public_site_url(request) -> str:
    """Where links in messages a visitor asks for on the public pages start: only
    TANDEM_SITE_URL, never the Host header an anonymous visitor sent (whose link would then
    point wherever they liked); in the demo and development, the request's address. Empty:
    nothing can be sent (`tandem check` says so: portal_access.E001)."""
    if settings.SITE_URL:
        return settings.SITE_URL
    return site_url(request) if sms.files_allowed() else ""


# --- throttles of the public pages ------------------------------------------------------------


def throttled_as(address: str | None) -> str:
    """What one client is counted as: an IPv4 address as it is; an IPv6 address by its /64
    network (one connection is usually given a whole /64, so counting each address would
    let it try 2^64 times as often)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return (address or "unknown")[:64]
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _throttle_key(address: str | None, purpose: str, now=None) -> dict:
    now = now or timezone.now()
    start = now.replace(minute=0, second=0, microsecond=0)  # THROTTLE_WINDOW: the hour
    return {"address": throttled_as(address), "purpose": purpose, "window": start}


def throttled(address: str | None, purpose: str) -> bool:
    """This address has done `purpose` its THROTTLES[purpose] times in this window."""
    done = Throttle.objects.filter(**_throttle_key(address, purpose)).values_list(
        "count", flat=True).first()
    return (done or 0) >= THROTTLES[purpose]


def count(address: str | None, purpose: str) -> int:
    """Count one `purpose` by this address in this window (in the database, so every app
    server sees it); returns the count so far."""
    key = _throttle_key(address, purpose)
    with transaction.atomic():
        if not Throttle.objects.filter(**key).update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    Throttle.objects.create(**key, count=1)
            except IntegrityError:  # another request made the row just now
                Throttle.objects.filter(**key).update(count=F("count") + 1)
            Throttle.objects.filter(window__lt=key["window"] - DAY).delete()
        return Throttle.objects.filter(**key).values_list("count", flat=True).first() or 0


def _audit(actor: Actor, action: str, patient: Patient, *, obj=None, detail: str = "",
           role: str = "", object_type: str = ""):
    """On the patient's organisation's trail; the actor may be an anonymous visitor."""
    user = actor.user if getattr(actor.user, "is_authenticated", False) else None
    return trail.record(organisation=patient.organisation_id, action=action, actor=user,
                        role=role or actor.role, patient=patient, obj=obj,
                        object_type=object_type, path=actor.path,
                        client=actor.address, purpose=actor.purpose, detail=detail)


# --- summary for staff -------------------------------------------------------------------


@dataclass(frozen=True)
class OpenInvitation:
    channel: str
    sent_at: datetime.datetime
    expires_at: datetime.datetime

    @property
    def channel_words(self) -> str:
        return CHANNEL_WORDS.get(self.channel, self.channel)


@dataclass(frozen=True)
class AccessSummary:
    """A patient's portal access, for staff pages (the patient summary, the access page)."""

    has_account: bool
    active: bool  # False: suspended (or never activated)
    username: str
    last_sign_in: datetime.datetime | None
    invitation: OpenInvitation | None

    @property
    def words(self) -> str:
        if self.has_account and self.active:
            return "Has portal access"
        if self.has_account:
            return "Portal access suspended"
        if self.invitation:
            return "Invited, not yet activated"
        return "No portal access"


def open_invitations(patient: Patient):
    return Invitation.objects.of(patient.organisation_id).filter(
        patient=patient, used_at__isnull=True, voided_at__isnull=True, locked_at__isnull=True,
        expires_at__gt=timezone.now())


def access_summary(patient: Patient) -> AccessSummary:
    """Whether the patient has a portal account, whether it is active, when they last signed
    in, and the open invitation (channel, sent, expires), if any. Two queries at most."""
    user = User.objects.filter(pk=patient.portal_user_id).first() \
        if patient.portal_user_id else None
    invitation = open_invitations(patient).order_by("-created_at").first()
    return AccessSummary(
        has_account=user is not None, active=bool(user and user.is_active),
        username=user.username if user else "", last_sign_in=user.last_login if user else None,
        invitation=OpenInvitation(invitation.channel, invitation.created_at,
                                  invitation.expires_at) if invitation else None)


# --- inviting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    invitation: Invitation
    message: Message


@transaction.atomic
def invite(actor: Actor, patient: Patient, channel: str, *, site: str) -> Sent:
    """Invite the patient to the portal by `channel` (email, sms or letter), voiding any
    earlier open invitation. Email and text need the address and the patient's agreement
    (raises Refused otherwise); a letter is written for staff to print (outbox)."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)  # one invite at a time
    # Checked on the record as saved now (not the copy the page read: "do not contact" or a
    # withdrawn agreement may have been saved since).
    if problem := channel_problem(patient, channel):
        raise Refused(problem, field="channel")
    now = timezone.now()
    voided = _void_open(patient, now, "a newer invitation was sent")
    token, code = secrets.token_urlsafe(32), new_code()
    invitation = Invitation.objects.create(
        organisation_id=patient.organisation_id, patient=patient, channel=channel,
        token_digest=digest(token, "token"), code_digest=digest(code, "code"),
        created_by=actor.user, created_at=now,
        expires_at=now + datetime.timedelta(days=settings.PORTAL_INVITATION_DAYS))
    link = site + reverse("join:link", kwargs={"token": token})
    context = {"patient": patient, "link": outbox.secret(link),
               "start": site + reverse("join:start"), "code": outbox.secret(show_code(code)),
               "expires": invitation.expires_at, "sender": actor.user,
               "service": naming.everyday_name(patient.organisation)}
    message = outbox.queue(
        organisation=patient.organisation, patient=patient, channel=channel,
        recipient=recipient(patient, channel), kind="portal-invitation",
        subject="Your invitation to set up your online account",
        body=render_to_string(f"portal_access/messages/invitation_{channel}.txt", context),
        created_by=actor.user)
    invitation.message = message
    invitation.save(update_fields=["message"])
    to = f" to {message.recipient}" if message.recipient else ""
    _audit(actor, "create", patient, obj=invitation,
           detail=f"portal invitation by {CHANNEL_WORDS[channel]}{to}, open until "
                  f"{timezone.localtime(invitation.expires_at):%Y-%m-%d %H:%M}"
                  + (f"; voided {voided} earlier invitation(s)" if voided else ""))
    return Sent(invitation, message)


def _void_open(patient: Patient, now, why: str) -> int:
    """Void the patient's open invitations; their messages not yet sent or printed are
    withdrawn, with their codes and links."""
    voiding = Invitation.objects.of(patient.organisation_id).filter(
        patient=patient, used_at__isnull=True, voided_at__isnull=True)
    messages = list(voiding.exclude(message=None).values_list("message_id", flat=True))
    voided = voiding.update(voided_at=now)
    _withdraw(patient, messages, f"not needed: the invitation was voided ({why})")
    return voided


def _withdraw(patient: Patient, message_ids, reason: str) -> int:
    return outbox.withdraw(Message.objects.of(patient.organisation_id).filter(
        pk__in=list(message_ids)), reason) if message_ids else 0


def forget_closed(patient: Patient) -> int:
    """Withdraw the messages (an unprinted letter, an email still failing) of the patient's
    invitations that no longer work (expired, locked, used or voided): their codes and
    links are no longer kept. Run whenever the patient's invitations are looked at."""
    closed = Invitation.objects.of(patient.organisation_id).filter(
        patient=patient, message__status__in=["queued", "failed"]).exclude(
        used_at__isnull=True, voided_at__isnull=True, locked_at__isnull=True,
        expires_at__gt=timezone.now())
    return _withdraw(patient, closed.values_list("message_id", flat=True),
                     "not needed: the invitation no longer works")


def letter_waiting(patient: Patient) -> Message | None:
    """The invitation letter waiting to be printed: of the patient's open invitation."""
    forget_closed(patient)
    invitation = open_invitations(patient).filter(channel=Channel.LETTER,
                                                  message__status="queued").first()
    return invitation.message if invitation else None


def letter_printed(actor: Actor, patient: Patient, message: Message) -> None:
    outbox.printed(message)
    _audit(actor, "update", patient, obj=message,
           detail="portal invitation letter printed; its code is no longer kept")


# --- the patient opens their invitation ---------------------------------------------------


def find_invitation(*, token: str = "", code: str = "") -> Invitation | None:
    """The invitation a link's token or a typed code names (open or not), or None."""
    if token:
        return Invitation.objects.select_related("patient").filter(
            token_digest=digest(token, "token")).first()
    code = normalise_code(code)
    if not code:
        return None
    found = Invitation.objects.select_related("patient").filter(
        code_digest=digest(code, "code")).order_by("-created_at")
    return next((i for i in found if i.is_open), found.first())


UNUSABLE = {
    "used": "This invitation has already been used. If you have set up your account, "
            "sign in with your username and password.",
    "voided": "This invitation no longer works: a newer one was sent, or it was stopped. "
              "Use the newest link or code you were given, or ask your keyworker.",
    "locked": "This invitation is locked because the date of birth did not match too many "
              "times. Ask your keyworker for a new invitation.",
    "expired": "This invitation has expired. Ask your keyworker for a new one.",
}


def opened(actor: Actor, invitation: Invitation) -> str | None:
    """The visitor opened the invitation (its link, or typed its code). Why it cannot be
    used, in words (and audited), or None."""
    problem = invitation.problem()
    if problem:
        forget_closed(invitation.patient)
        _audit(actor, "login-failed", invitation.patient, obj=invitation,
               detail=f"portal invitation opened but it is {problem}")
        return UNUSABLE[problem]
    _audit(actor, "read", invitation.patient, obj=invitation,
           detail="portal invitation opened (link or code): date of birth asked next")
    return None


def confirm_birth_date(actor: Actor, invitation: Invitation, born: datetime.date) -> None:
    """Check the date of birth given for this invitation. A wrong one is counted (and
    audited); the fifth locks the invitation. Raises Refused when it cannot go on."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().select_related("patient").get(
            pk=invitation.pk)
        refusal = _check_birth_date(actor, invitation, born)
    if refusal:
        raise refusal


def _check_birth_date(actor, invitation, born) -> Refused | None:
    problem = invitation.problem()
    if problem:
        _audit(actor, "login-failed", invitation.patient, obj=invitation,
               detail=f"portal activation tried but the invitation is {problem}")
        return Refused(UNUSABLE[problem], reason=problem)
    if born == invitation.patient.date_of_birth:
        return None
    invitation.failed_attempts += 1
    locked = invitation.failed_attempts >= WRONG_BIRTH_DATES
    if locked:
        invitation.locked_at = timezone.now()
    invitation.save(update_fields=["failed_attempts", "locked_at"])
    if locked and invitation.message_id:
        _withdraw(invitation.patient, [invitation.message_id],
                  "not needed: the invitation was locked")
    _audit(actor, "login-failed", invitation.patient, obj=invitation,
           detail=f"portal activation: wrong date of birth ({invitation.failed_attempts} of "
                  f"{WRONG_BIRTH_DATES})" + ("; invitation locked" if locked else ""))
    if locked:
        return Refused(UNUSABLE["locked"], reason="locked")
    left = invitation.tries_left
    return Refused(f"The date of birth does not match our records. Check the day, month and "
                   f"year ({left} {'try' if left == 1 else 'tries'} left).",
                   field="date_of_birth", reason="wrong-birth-date")


def activate(actor: Actor, invitation: Invitation, *, born: datetime.date, username: str,
             password: str) -> User:
    """Activate the invitation: the date of birth must match; the patient's portal account
    is made (or, if they had one, opened again with this password), linked to their record
    and given the patient role. The password must pass the same rules as staff passwords
    (AUTH_PASSWORD_VALIDATORS: raises django's ValidationError). Raises Refused otherwise."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().select_related("patient").get(
            pk=invitation.pk)
        refusal = _check_birth_date(actor, invitation, born)
        if refusal is None:
            try:
                with transaction.atomic():
                    user = _account(invitation.patient, username, password)
            except IntegrityError:  # the same username, made at the same moment
                raise Refused(TAKEN, field="username") from None
            invitation.used_at = timezone.now()
            invitation.save(update_fields=["used_at"])
            _void_open(invitation.patient, invitation.used_at, "another invitation was used")
            if invitation.message_id:
                _withdraw(invitation.patient, [invitation.message_id],
                          "not needed: the invitation was used")
            _audit(actor, "update", invitation.patient, obj=invitation, role=Role.PATIENT,
                   detail=f"portal invitation used: account {user.username} activated")
    if refusal:
        raise refusal
    return user


def proposed_user(patient: Patient, username: str = "") -> User:
    """The portal account as it will be (unsaved when new), for the password rules that
    compare a password with the person's details."""
    if patient.portal_user_id:
        return User.objects.get(pk=patient.portal_user_id)
    return User(username=username, first_name=patient.preferred_name or patient.given_name,
                last_name=patient.family_name,
                email=patient.email if patient.agrees_to_email else "",
                organisation_id=patient.organisation_id)


TAKEN = "This username is taken. Choose another."


def username_problem(username: str) -> str | None:
    """Whether the username is free (whatever the case of its letters). Asked only once the
    date of birth has matched, so nobody learns which usernames exist from an invitation
    they cannot use."""
    if User.objects.filter(username__iexact=username).exists():
        return TAKEN
    return None


def _account(patient: Patient, username: str, password: str) -> User:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    user = proposed_user(patient, username)
    validate_password(password, user)
    if user.pk is None:
        problem = username_problem(username)
        if problem:
            raise Refused(problem, field="username")
    user.set_password(password)
    user.is_active = True
    user.save()
    if not RoleGrant.objects.filter(user=user, role=Role.PATIENT).exists():
        RoleGrant.objects.create(organisation_id=patient.organisation_id, user=user,
                                 role=Role.PATIENT)
    if patient.portal_user_id != user.pk:
        Patient.objects.filter(pk=patient.pk).update(portal_user=user)
    return user


# --- suspending and restoring --------------------------------------------------------------


@transaction.atomic
def suspend(actor: Actor, patient: Patient) -> None:
    """The patient can no longer sign in (their account is kept); any open invitation is
    voided, and every way to choose a new password they were sent is ended: open reset
    codes expire and reset messages not yet sent are withdrawn (so restoring the account
    later does not bring them back). An emailed reset link already sent stops working too:
    the account's version moves on, and with it the link's token (ResetTokens)."""
    user = _portal_user(patient)
    now = timezone.now()
    voided = _void_open(patient, now, "portal access suspended")
    if user is None and not voided:
        raise Refused("The patient has no portal account or open invitation to suspend.")
    ended = withdrawn = 0
    if user is not None:
        User.objects.filter(pk=user.pk).update(is_active=False, version=F("version") + 1)
        ended = ResetCode.objects.of(patient.organisation_id).filter(
            user=user, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        withdrawn = outbox.withdraw(Message.objects.of(patient.organisation_id).filter(
            patient=patient, kind="password-reset"),
            "not needed: portal access was suspended")
    _audit(actor, "update", patient, obj=user,
           object_type="" if user else "invitation",
           detail="portal access suspended"
                  + (f"; {voided} open invitation(s) voided" if voided else "")
                  + (f"; {ended} reset code(s) ended" if ended else "")
                  + (f"; {withdrawn} reset message(s) not yet sent withdrawn"
                     if withdrawn else ""))


@transaction.atomic
def restore(actor: Actor, patient: Patient) -> None:
    user = _portal_user(patient)
    if user is None:
        raise Refused("The patient has no portal account: invite them instead.")
    User.objects.filter(pk=user.pk).update(is_active=True)
    _audit(actor, "update", patient, obj=user, detail="portal access restored")


def _portal_user(patient: Patient) -> User | None:
    if not patient.portal_user_id:
        return None
    return User.objects.select_for_update().filter(pk=patient.portal_user_id).first()


# --- password resets ------------------------------------------------------------------------


def send_reset(actor: Actor, patient: Patient, channel: str, *, site: str,
               asked_by_patient: bool = False) -> Message:
    """Send the patient a way to choose a new password, by a channel they agreed to: an
    email with a link (Django's password-reset token), or a text message with a 6-digit
    code for 15 minutes. Raises Refused when the account or the channel cannot be used.
    What staff send goes at once; what the patient asked for goes through the worker."""
    user = User.objects.filter(pk=patient.portal_user_id).first() \
        if patient.portal_user_id else None
    if user is None or not user.is_active:
        raise Refused("The patient has no active portal account: invite them, or restore "
                      "their access first.")
    if channel == Channel.LETTER:
        raise Refused("A reset cannot be sent by letter: invite the patient again by "
                      "letter instead (their account is kept).", field="channel")
    problem = channel_problem(patient, channel)
    if problem:
        raise Refused(problem, field="channel")
    if channel == Channel.SMS and codes_locked(user):
        raise Refused(f"Codes by text message are stopped for this account until tomorrow: "
                      f"{WRONG_RESET_CODES} wrong codes were typed for it in the last day. Send "
                      f"a link by email, or invite the patient again (their account is kept).",
                      field="channel")
    context = {"patient": patient, "user": user, "sender": actor.user,
               "asked_by_patient": asked_by_patient, "minutes": RESET_CODE_MINUTES,
               "service": naming.everyday_name(patient.organisation)}
    if channel == Channel.EMAIL:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = reset_tokens.make_token(user)
        context["link"] = outbox.secret(
            site + reverse("join:reset-link", kwargs={"uidb64": uid, "token": token}))
    else:
        code = f"{secrets.randbelow(10 ** 6):06d}"
        now = timezone.now()
        ResetCode.objects.create(
            organisation_id=patient.organisation_id, user=user,
            code_digest=_code_digest(user, code), created_at=now,
            expires_at=now + datetime.timedelta(minutes=RESET_CODE_MINUTES))
        context["code"] = outbox.secret(code)
        context["link"] = site + reverse("join:reset-code")
    message = outbox.queue(
        organisation=patient.organisation, patient=patient, channel=channel,
        recipient=recipient(patient, channel), kind="password-reset",
        subject="Choosing a new password for your online account",
        body=render_to_string(f"portal_access/messages/reset_{channel}.txt", context),
        created_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
        inline=not asked_by_patient)
    who = "asked for by the patient" if asked_by_patient else "sent by staff"
    _audit(actor, "update", patient, obj=user,
           role=Role.PATIENT if asked_by_patient else "",
           detail=f"portal password reset {who}, by {CHANNEL_WORDS[channel]} to "
                  f"{message.recipient}")
    return message


class ResetTokens(PasswordResetTokenGenerator):
    """The tokens of emailed reset links of portal accounts: Django's (ended by a new
    password, a sign-in, or after PASSWORD_RESET_TIMEOUT), also ended when the account's
    version moves on, as suspending it does: a link sent before a suspension does not work
    once access is restored."""

    key_salt = "tandem.portal_access.ResetTokens"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}v{user.version}"


reset_tokens = ResetTokens()


def _code_digest(user: User, code: str) -> str:
    return digest(f"{user.pk}:{code}", "reset-code")


def codes_locked(user: User, now=None) -> bool:
    """WRONG_RESET_CODES wrong codes were typed for the account in the last day, across all
    its codes: codes by text message stop working for it until the day has passed."""
    now = now or timezone.now()
    wrong = ResetCode.objects.filter(user=user, created_at__gt=now - DAY).aggregate(
        n=Sum("failed_attempts"))["n"] or 0
    return wrong >= WRONG_RESET_CODES


def portal_account(username: str) -> tuple[User, Patient] | None:
    """The active patient account with this username, and its patient, or None."""
    user = User.objects.filter(username__iexact=username.strip(), is_active=True,
                               grants__role=Role.PATIENT).first() if username.strip() else None
    if user is None:
        return None
    patient = Patient.objects.of(user.organisation_id).filter(portal_user=user).first()
    return (user, patient) if patient else None


def request_reset(actor: Actor, username: str, channel: str, *, site: str) -> None:
    """A patient's own "forgot my password": sent (by the worker) if the account exists, is
    active, the patient agreed to that channel, and the account has not had a reset in the
    last minute or RESETS_A_DAY in the last day; otherwise nothing is sent. Says nothing
    either way, and the worker is woken either way, so the answer takes as long."""
    try:
        with transaction.atomic():
            _request_reset(actor, username, channel, site)
    finally:
        outbox.wake_worker()


def _request_reset(actor: Actor, username: str, channel: str, site: str) -> None:
    found = portal_account(username)
    if found is None:
        return
    user, patient = found
    # One request per account at a time: a second one waits here, then sees the first.
    User.objects.select_for_update().filter(pk=user.pk).first()
    now = timezone.now()
    recent = Message.objects.of(patient.organisation_id).filter(
        patient=patient, kind="password-reset", created_at__gt=now - DAY)
    why = ""
    if recent.filter(created_at__gt=now - RESET_PAUSE).exists():
        why = "another was sent less than a minute ago"
    elif recent.count() >= RESETS_A_DAY:
        why = f"{RESETS_A_DAY} were sent in the last day"
    elif channel == Channel.SMS and codes_locked(user, now):
        why = f"{WRONG_RESET_CODES} wrong codes were typed in the last day"
    elif not site:
        why = "TANDEM_SITE_URL is not set"
        log.error("a password reset was asked for, but TANDEM_SITE_URL is not set")
    if why:
        _audit(actor, "refused", patient, obj=user, role=Role.PATIENT,
               detail=f"portal password reset asked for by {CHANNEL_WORDS.get(channel, '?')}"
                      f" but not sent: {why}")
        return
    try:
        send_reset(actor, patient, channel, site=site, asked_by_patient=True)
    except Refused:
        return


WRONG_CODE = ("That code is not right, or it has expired. Check the username and the code, "
              "or ask for a new code. After 10 wrong codes in a day, codes stop working for "
              "that username until the next day: then ask your keyworker.")


def reset_with_code(actor: Actor, username: str, code: str, password: str) -> User:
    """Set a new password with a code sent by text message: any open code of the account
    works (a newer code does not end an older one). A wrong code counts against the
    newest open code (RESET_CODE_TRIES each) and against the account (WRONG_RESET_CODES a
    day, across its codes, then no code works); all refusals say the same words, whatever
    the reason. Raises Refused, or ValidationError for a password the rules refuse (the code
    is then kept for another try)."""
    found = portal_account(username)
    typed = "".join(ch for ch in code if ch.isdigit())
    if found is None:
        raise Refused(WRONG_CODE, field="code")
    user, patient = found
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one try at a time
        now = timezone.now()
        codes = list(ResetCode.objects.select_for_update().filter(
            user=user, used_at__isnull=True, expires_at__gt=now,
            failed_attempts__lt=RESET_CODE_TRIES).order_by("-created_at"))
        locked = codes_locked(user, now)
        wanted = _code_digest(user, typed)
        match = None if locked else next(
            (c for c in codes if hmac.compare_digest(c.code_digest, wanted)), None)
        if match is not None:
            validate_password(password, user)
            user.set_password(password)
            user.save(update_fields=["password"])
            match.used_at = now
            match.save(update_fields=["used_at"])
            ResetCode.objects.filter(user=user, used_at__isnull=True).update(expires_at=now)
            _audit(actor, "update", patient, obj=user, role=Role.PATIENT,
                   detail="portal password reset with the code sent by text message")
            return user
        if locked:
            detail = (f"codes stopped: {WRONG_RESET_CODES} wrong codes in the last day")
        elif not codes:
            detail = "no code open (expired, used or too many tries)"
        else:
            newest = codes[0]
            newest.failed_attempts += 1
            newest.save(update_fields=["failed_attempts"])
            detail = f"wrong code ({newest.failed_attempts} of {RESET_CODE_TRIES})"
            if codes_locked(user, now):
                detail += f"; codes stopped for a day ({WRONG_RESET_CODES} wrong)"
        _audit(actor, "login-failed", patient, obj=user, role=Role.PATIENT,
               detail=f"portal password reset: {detail}")
    raise Refused(WRONG_CODE, field="code")  # after the block: the count is kept


def reset_by_link_done(actor: Actor, user: User) -> None:
    """Audit a new password chosen from an emailed reset link."""
    patient = Patient.objects.of(user.organisation_id).filter(portal_user=user).first()
    if patient is not None:
        _audit(actor, "update", patient, obj=user, role=Role.PATIENT,
               detail="portal password reset from the emailed link")
