"""What the patients app announces, for the apps above it to act on. Django signals, sent
inside the saving transaction; the patients app itself imports nothing above it.

- `episode_changed`: an episode started, changed or ended (`patient`), so the check-up
  schedule is worked out again (assessment). Also `actor`: who made the change (an
  audit.actor.Actor), so a closed episode's medication plan is stopped in their name
  (medication).
- `records_changed`: a bulk write in any app changed these patients' records without model
  signals (`patient_ids`; None: every patient), so what summarises them is brought up to date
  (the caseload).
- `contact_stopped`: staff recorded "do not contact" on a patient's details (`patient`), so
  what was waiting to be sent to them is withdrawn (outbox).
"""

from django.dispatch import Signal

episode_changed = Signal()
records_changed = Signal()
contact_stopped = Signal()
