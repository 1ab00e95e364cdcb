"""The demo's reminders: the service's everyday name ("Riverside": its full name says what it
does), and each patient's choices, made from the ways they agreed to be contacted. Written
set-based, in batches, for patients who have none yet; a third of those who agreed to no text
or email get letters (a made-up address). The demo sends through files: texts in
TANDEM_OUTBOX_DIR/sms, emails in TANDEM_OUTBOX_DIR/email, letters on "Letters to post"."""

from __future__ import annotations

import datetime
import secrets
import uuid

from django.db import connection, transaction
from django.utils import timezone

from tandem.bulk import insert_many
from tandem.outbox.models import ServiceWording
from tandem.patients.models import Patient
from tandem.reminders.models import Preferences

BATCH = 5000
COLUMNS = ("id", "organisation_id", "patient_id", "channels", "window_opens", "window_closes",
           "groups", "quote_goal", "name_the_service", "postal_address", "stop_token",
           "updated_at")
STREETS = ("Mill Lane", "Canal Road", "Station Road", "Park View", "Church Street")


def load(org) -> int:
    """Everyday name and choices for the demo's patients who have none. Returns how many."""
    ServiceWording.objects.get_or_create(organisation=org, defaults={
        "everyday_name": "Riverside", "other_names": org.name})
    has = Preferences.objects.of(org).values("patient_id")
    rows = (Patient.objects.of(org).exclude(pk__in=has).order_by("service_id")
            .values_list("pk", "service_id", "phone", "email", "agrees_to_sms",
                         "agrees_to_email"))
    now = timezone.now()
    # Times as SQLite keeps them (Django's own format there); PostgreSQL takes them as they are.
    at = (lambda t: t.isoformat()) if connection.vendor == "sqlite" else (lambda t: t)
    made, batch = 0, []
    for pk, service_id, phone, email, sms, mail in list(rows):
        number = int(service_id.rsplit("-", 1)[-1]) if service_id[-1].isdigit() else 0
        ways = [w for w, ok in (("sms", sms and phone), ("email", mail and email)) if ok]
        address = ""
        if (not ways and number % 3 == 0) or (ways and number % 4 == 0):
            ways.append("letter")
            address = (f"{number % 90 + 1} {STREETS[number % len(STREETS)]}\nRiverside\n"
                       f"RV{number % 9 + 1} 2AB")
        if not ways:
            continue
        opens = datetime.time(9) if number % 5 else datetime.time(12)
        batch.append((uuid.uuid4(), org.pk, pk, ",".join(ways), at(opens),
                      at(datetime.time(20)), "checkups,plan,medication,appointments",
                      number % 3 == 1, False, address, secrets.token_urlsafe(24), now))
        if len(batch) >= BATCH:
            made += _write(batch)
            batch = []
    return made + _write(batch)


def _write(batch) -> int:
    if not batch:
        return 0
    with transaction.atomic():
        return insert_many(Preferences, COLUMNS, batch)
