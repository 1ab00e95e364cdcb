"""What the assessment app announces, for the apps above it to act on. Django signals, sent
inside the saving transaction; the assessment app itself imports nothing above it.

- `answers_saved` (`response`, `instrument`): answers were kept, in a draft or a whole
  check-up. Receivers raise the urgent flags the answers call for and return the flags they
  raised (monitoring).
- `batch_recorded` (`organisation_id`, `items`: (response id, patient id, instrument, answers)
  for each stored check-up): the same for a batch stored in bulk; receivers return the flags
  they raised.
- `checkups_completed` (`organisation_id`, `patient_ids`, `now`): check-ups were completed;
  receivers look at the patients' flags again (at once when `now`, else queued).

Urgent flags must never be missed: `safety_answers` and `batch_safety` refuse to run when no
app receives the event, rather than store answers nobody checks (docs/clinical-safety.md).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal

answers_saved = Signal()
batch_recorded = Signal()
checkups_completed = Signal()


def safety_answers(response, instrument) -> list:
    """Announce answers kept; the urgent flags the receivers raised."""
    return _flags(answers_saved.send(type(response), response=response, instrument=instrument))


def batch_safety(organisation_id, items) -> list:
    """Announce a batch stored in bulk; the urgent flags the receivers raised."""
    return _flags(batch_recorded.send(None, organisation_id=organisation_id, items=items))


def _flags(replies) -> list:
    if not replies:
        raise ImproperlyConfigured("No app checks saved answers for urgent safety flags.")
    return [flag for _receiver, flags in replies for flag in flags]
