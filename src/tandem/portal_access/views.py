"""The portal-access pages: for staff, under the patient (/patients/<id>/portal/, the
permission layer has put the patient on `request.patient`); for patients, public pages under
/join/ (no sign-in: the invitation, the code or the reset link decides)."""

from __future__ import annotations

import logging

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from tandem.accounts.models import Role
from tandem.accounts.permissions import CHANGES_RECORDS
from tandem.audit.actor import Actor
from tandem.outbox import services as outbox
from tandem.outbox.models import Channel, Message
from tandem.portal_access import services
from tandem.portal_access.forms import (
    ActivateForm,
    ChannelForm,
    CodeForm,
    ForgotForm,
    ResetCodeForm,
)
from tandem.portal_access.models import Invitation

log = logging.getLogger(__name__)

SESSION_KEY = "portal_access_invitation"
CONFIRMED_KEY = "portal_access_born_ok"  # the invitation whose date of birth matched
BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- staff -----------------------------------------------------------------------------------


def portal_access(request, patient_id):
    """Whether the patient has portal access; invite, suspend, restore, send a reset."""
    patient = request.patient
    can_change = request.access_role in CHANGES_RECORDS
    if request.method == "POST":
        return _staff_action(request, patient)
    recent = (Message.objects.of(patient.organisation_id)
              .filter(patient=patient, kind__in=["portal-invitation", "password-reset"])
              .order_by("-created_at")[:10])
    return render(request, "portal_access/staff.html", {
        "patient": patient, "access": services.access_summary(patient),
        "can_change": can_change, "recent": recent,
        "invite_form": ChannelForm(patient=patient, prefix="invite"),
        "reset_form": ChannelForm(patient=patient, prefix="reset", letter=False),
        "letter": services.letter_waiting(patient),
        "invitation_days": settings.PORTAL_INVITATION_DAYS})


def _staff_action(request, patient):
    actor, action = Actor.of(request), request.POST.get("do", "")
    done = redirect("patients:portal-access", patient_id=patient.pk)
    try:
        if action == "invite":
            form = ChannelForm(request.POST, patient=patient, prefix="invite")
            if not form.is_valid():
                raise services.Refused("Choose how to send the invitation.", field="channel")
            with transaction.atomic():
                sent = services.invite(actor, patient, form.cleaned_data["channel"],
                                       site=services.site_url(request))
            if sent.invitation.channel == Channel.LETTER:
                messages.success(request, "Invitation letter ready: print it and hand it "
                                          "over or post it.")
                return redirect("patients:portal-letter", patient_id=patient.pk)
            messages.success(request, f"Invitation sent by "
                                      f"{services.CHANNEL_WORDS[sent.invitation.channel]} to "
                                      f"{sent.message.recipient}. Any earlier invitation no "
                                      f"longer works.")
        elif action == "reset":
            form = ChannelForm(request.POST, patient=patient, prefix="reset", letter=False)
            if not form.is_valid():
                raise services.Refused("Choose how to send the reset.", field="channel")
            with transaction.atomic():
                message = services.send_reset(actor, patient, form.cleaned_data["channel"],
                                              site=services.site_url(request))
            messages.success(request, f"Password reset sent by "
                                      f"{services.CHANNEL_WORDS[message.channel]} to "
                                      f"{message.recipient}.")
        elif action == "suspend":
            with transaction.atomic():
                services.suspend(actor, patient)
            messages.success(request, "Portal access suspended: the patient cannot sign in, "
                                      "and any open invitation no longer works.")
        elif action == "restore":
            with transaction.atomic():
                services.restore(actor, patient)
            messages.success(request, "Portal access restored: the patient can sign in again.")
        else:
            messages.error(request, "Choose what to do.")
    except services.Refused as refused:
        messages.error(request, str(refused))
    return done


def portal_letter(request, patient_id):
    """The invitation letter to print: the short code, the address and a QR code of the
    link. Once printed (the button), its code is no longer kept anywhere."""
    patient = request.patient
    letter = services.letter_waiting(patient)
    if request.method == "POST":
        if letter is not None:
            services.letter_printed(Actor.of(request), patient, letter)
            messages.success(request, "Letter marked as printed.")
        return redirect("patients:portal-access", patient_id=patient.pk)
    context = {"patient": patient, "letter": letter}
    if letter is not None:
        # The letter's one secret is its code; the square code opens the start page with it.
        code = next(iter(outbox.SECRET.findall(letter.body)), "")
        start = services.site_url(request) + reverse("join:start")
        link = f"{start}?{urlencode({'code': code})}"
        context.update(
            text=outbox.readable(letter.body), code=code, link=link, start=start,
            qr=segno.make(link, error="m").svg_inline(
                scale=4, title="Square code: scan it with your phone's camera to open the "
                               "page where you set up your account"))
    return render(request, "portal_access/letter.html", context)


# --- the patient's own pages (public) -------------------------------------------------------


def start(request):
    """Type the code from a letter or message. Wrong codes are counted by the address they
    came from (services.THROTTLES) and logged with it: they match no patient, so belong to
    no organisation's audit trail."""
    typed = request.POST if request.method == "POST" else (
        request.GET if "code" in request.GET else None)  # the letter's square code has it
    form = CodeForm(typed)
    if typed is not None and form.is_valid():
        actor = Actor.of(request)
        if services.throttled(actor.address, "join-code"):
            form.add_error("code", services.TOO_MANY)
            return render(request, "portal_access/start.html", {"form": form}, status=429)
        invitation = services.find_invitation(code=form.cleaned_data["code"])
        if invitation is None:
            tries = services.count(actor.address, "join-code")
            log.warning("wrong portal invitation code from %s (%s this hour)",
                        actor.address, tries)
            form.add_error("code", "This code is not right. Check it against your letter or "
                                   "message: it has 8 letters and numbers.")
        else:
            return _open(request, invitation)
    return render(request, "portal_access/start.html", {"form": form})


@require_GET
def link(request, token):
    """The link in an email or text message: opens the invitation, then the next page (so
    the token is not left in the address bar or history)."""
    invitation = services.find_invitation(token=token)
    if invitation is None:
        return render(request, "portal_access/unusable.html",
                      {"problem": "This link is not right: it may have been cut short. Copy "
                                  "the whole link from your message, or type the code at "
                                  "the page below."})
    return _open(request, invitation)


def _open(request, invitation: Invitation):
    problem = services.opened(Actor.of(request), invitation)
    if problem:
        return render(request, "portal_access/unusable.html", {"problem": problem})
    request.session[SESSION_KEY] = str(invitation.pk)
    request.session.pop(CONFIRMED_KEY, None)
    return redirect("join:confirm")


def confirm(request):
    """Confirm the date of birth, choose a username and a password. Nothing about an
    existing account (its username) is shown, and no username is said to be taken, until
    the date of birth has matched."""
    invitation = Invitation.objects.select_related("patient").filter(
        pk=request.session.get(SESSION_KEY)).first() if request.session.get(SESSION_KEY) \
        else None
    if invitation is None:
        messages.info(request, "Open the link from your message, or type your code.")
        return redirect("join:start")
    patient = invitation.patient
    form = ActivateForm(request.POST or None, patient=patient)
    born_ok = request.session.get(CONFIRMED_KEY) == str(invitation.pk)
    if request.method == "POST":
        actor = Actor.of(request)
        try:
            if form.is_valid():
                user = services.activate(
                    actor, invitation, born=form.cleaned_data["date_of_birth"],
                    username=form.cleaned_data.get("username", ""),
                    password=form.cleaned_data["password1"])
                request.session.pop(SESSION_KEY, None)
                request.session.pop(CONFIRMED_KEY, None)
                login(request, user, backend=BACKEND)
                messages.success(request, "Your account is ready. Welcome.")
                return redirect("portal:home")
            if form.cleaned_data.get("date_of_birth"):
                services.confirm_birth_date(actor, invitation,
                                            form.cleaned_data["date_of_birth"])
                born_ok = True
                username = form.cleaned_data.get("username")
                problem = services.username_problem(username) if username else None
                if problem:
                    form.add_error("username", problem)
        except services.Refused as refused:
            if refused.reason == "wrong-birth-date":
                born_ok = False
            elif refused.field == "username":  # taken: the date of birth had matched
                born_ok = True
            if refused.field:
                form.add_error(refused.field, str(refused))
            else:
                request.session.pop(SESSION_KEY, None)
                request.session.pop(CONFIRMED_KEY, None)
                return render(request, "portal_access/unusable.html", {"problem": str(refused)})
        except ValidationError as error:  # the password rules, checked again at saving
            born_ok = True  # checked before the password, in activate
            form.add_error("password1", error)
        if born_ok:
            request.session[CONFIRMED_KEY] = str(invitation.pk)
        else:
            request.session.pop(CONFIRMED_KEY, None)
    show = born_ok and form.existing
    return render(request, "portal_access/confirm.html", {
        "form": form, "patient": patient, "existing": form.existing,
        "username": patient.portal_user.username if show else ""})


def forgot(request):
    """"I forgot my password": a code by text message, or a link by email. The page says
    the same whether or not the account exists."""
    form = ForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        channel, actor = form.cleaned_data["channel"], Actor.of(request)
        if services.count(actor.address, "forgot") > services.THROTTLES["forgot"]:
            log.warning("too many password resets asked for from %s", actor.address)
            form.add_error(None, services.TOO_MANY)
            return render(request, "portal_access/forgot.html", {"form": form}, status=429)
        services.request_reset(actor, form.cleaned_data["username"], channel,
                               site=services.public_site_url(request))
        if channel == Channel.SMS:
            request.session["portal_access_reset_username"] = form.cleaned_data["username"]
            messages.info(request, "If that username has an account and a phone number it "
                                   "agreed to texts on, a code is on its way. It works for "
                                   "15 minutes.")
            return redirect("join:reset-code")
        return render(request, "portal_access/forgot_sent.html")
    return render(request, "portal_access/forgot.html", {"form": form})


def reset_code(request):
    """Type the code from the text message and choose a new password."""
    initial = {"username": request.session.get("portal_access_reset_username", "")}
    form = ResetCodeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        actor = Actor.of(request)
        try:
            if services.throttled(actor.address, "reset-code"):
                form.add_error("code", services.TOO_MANY)
                return render(request, "portal_access/reset_code.html", {"form": form},
                              status=429)
            services.reset_with_code(actor, form.cleaned_data["username"],
                                     form.cleaned_data["code"],
                                     form.cleaned_data["password1"])
        except services.Refused as refused:
            tries = services.count(actor.address, "reset-code")
            log.warning("wrong password reset code from %s (%s this hour)", actor.address,
                        tries)
            form.add_error(refused.field or None, str(refused))
        except ValidationError as error:
            form.add_error("password1", error)
        else:
            request.session.pop("portal_access_reset_username", None)
            return redirect("join:reset-done")
    return render(request, "portal_access/reset_code.html", {"form": form})


class ResetLinkView(PasswordResetConfirmView):
    """The emailed reset link (Django's token generator): choose a new password."""

    template_name = "portal_access/reset_link.html"
    success_url = reverse_lazy("join:reset-done")
    token_generator = services.reset_tokens

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is not None and not user.is_active:
            return None  # suspended: the link no longer works
        if user is not None and not user.grants.filter(role=Role.PATIENT).exists():
            return None  # staff reset their passwords through their own link
        return user

    def form_valid(self, form):
        response = super().form_valid(form)
        services.reset_by_link_done(Actor.of(self.request), form.user)
        return response


def reset_done(request):
    return render(request, "portal_access/reset_done.html")


