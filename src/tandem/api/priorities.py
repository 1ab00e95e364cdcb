"""Priority sorts in the JSON API: start a round, save or submit a sort, read the comparison.
The same rule as the pages: neither sort's cards are shown until both are submitted, except
each caller's own side (a practitioner's token is the practitioner's voice)."""

from __future__ import annotations

import datetime
import uuid

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import StrictBool, StrictInt

from tandem.api.schemas import Conflict
from tandem.audit.actor import Actor
from tandem.core.errors import Invalid
from tandem.planning import services
from tandem.planning.forms import SortForm
from tandem.planning.models import Pile, SortSession, Voice

router = Router(tags=["priorities"])


class CardIn(Schema):
    code: str = Field(..., max_length=40)
    pile: Pile | None = None
    rank: StrictInt | None = None
    help: StrictBool = False
    note: str = Field("", max_length=200)


class SortIn(Schema):
    cards: list[CardIn]
    submit: StrictBool = Field(False, description="Submit (final) rather than save a draft")


class SortOut(Schema):
    voice: Voice
    submitted_at: datetime.datetime | None
    handed_over: bool
    cards: list[dict] | None = Field(None, description="Hidden until both have submitted")


class SessionOut(Schema):
    id: uuid.UUID
    started_at: datetime.datetime
    discussion: str
    sorts: list[SortOut]


class DisagreementOut(Schema):
    card: str
    patient: str
    practitioner: str
    distance: int


class ComparisonOut(Schema):
    kappa: float = Field(..., description="Linear weighted kappa on the piles (Cohen 1968)")
    rho: float | None = Field(None, description="Spearman's rank correlation")
    agree: list[str]
    disagreements: list[DisagreementOut]
    only_patient_now: list[str]
    only_practitioner_now: list[str]


def _session_out(session: SortSession) -> dict:
    both = services.both_submitted(session)
    return {
        "id": session.pk, "started_at": session.started_at, "discussion": session.discussion,
        "sorts": [{"voice": s.voice, "submitted_at": s.submitted_at,
                   "handed_over": s.handed_over,
                   "cards": s.cards if both or s.voice == Voice.PRACTITIONER else None}
                  for s in session.sorts.all()],
    }


def _session(request, session_id) -> SortSession:
    return get_object_or_404(SortSession.objects.prefetch_related("sorts"), pk=session_id,
                             patient=request.patient)


@router.get("/patients/{uuid:patient_id}/sorts", response=list[SessionOut], url_name="sort-list")
def list_sorts(request: HttpRequest, patient_id: uuid.UUID):
    return [_session_out(s) for s in request.patient.sort_sessions.prefetch_related("sorts")]


@router.post("/patients/{uuid:patient_id}/sorts", response={201: SessionOut},
             url_name="sort-list")
def start_sort(request: HttpRequest, patient_id: uuid.UUID):
    session = services.start_session(Actor.of(request), request.patient)
    return Status(201, _session_out(session))


# Declared before the sort itself, so "comparison" is never taken for a voice.
@router.get("/patients/{uuid:patient_id}/sorts/{uuid:session_id}/comparison",
            response={200: ComparisonOut, 409: Conflict}, url_name="sort-comparison")
def compare_sorts(request: HttpRequest, patient_id: uuid.UUID, session_id: uuid.UUID):
    result = services.comparison(_session(request, session_id))
    if result is None:
        raise HttpError(409, "Both sorts must be submitted before they are compared.")
    return {
        "kappa": result.kappa, "rho": result.rho, "agree": result.agree,
        "disagreements": [{"card": c, "patient": a, "practitioner": b, "distance": d}
                          for c, a, b, d in result.disagreements],
        "only_patient_now": result.only_a_now, "only_practitioner_now": result.only_b_now,
    }


@router.put("/patients/{uuid:patient_id}/sorts/{uuid:session_id}/{voice}", response=SessionOut,
            url_name="sort-detail")
def save_sort(request: HttpRequest, patient_id: uuid.UUID, session_id: uuid.UUID, voice: Voice,
              body: SortIn):
    """Save (or, with `submit`, submit) one side's sort. Every problem is named by card."""
    session = _session(request, session_id)
    cards = services.cards_for(request.patient)
    known = {code for code, _l, _q in cards}
    errors = [{"loc": ["body", "cards", n, "code"], "msg": "No card has this code."}
              for n, card in enumerate(body.cards) if card.code not in known]
    data = {}
    for card in body.cards:
        data |= {f"pile_{card.code}": card.pile or "", f"rank_{card.code}": card.rank or "",
                 f"note_{card.code}": card.note}
        if card.help:
            data[f"help_{card.code}"] = "on"
    form = SortForm(data, cards=cards)
    valid = form.check_complete() if body.submit else form.is_valid()
    if not valid or errors:
        for field, messages in form.errors.items():
            kind, _, code = field.partition("_")
            errors += [{"loc": ["body", "cards", code, kind], "msg": str(m)} for m in messages]
        raise Invalid(errors)
    try:
        services.save_sort(Actor.of(request), session, voice, form.entries(), submit=body.submit,
                           handed_over=voice == Voice.PATIENT)
    except services.AlreadySubmitted:
        raise HttpError(409, "This sort is submitted and can no longer change.") from None
    except services.SortingInPortal:
        raise HttpError(409, "The patient is sorting in the portal; their sort stays "
                        "private until both are submitted.") from None
    return _session_out(_session(request, session_id))
