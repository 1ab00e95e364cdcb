"""What medication announces, for the apps above it (monitoring re-evaluates the patient's
flags; reminders answer the patient). Medication itself imports nothing above it.

Each is sent inside the saving transaction."""

from django.dispatch import Signal

# A plan was started, changed or stopped: `plan`.
plan_changed = Signal()
# The dose ledger changed (a request applied or approved, a reduction drawn, paused, resumed
# or reversed): `plan`.
dose_changed = Signal()
# A dose was asked for (`request`), and a waiting request was answered (`request`).
dose_requested = Signal()
request_answered = Signal()
# A medication review was held: `review`.
review_held = Signal()
# Pharmacy reports were recorded for these patients of one organisation (one signal for a
# whole import): `organisation_id`, `patient_ids`.
dispensing_recorded = Signal()
