"""What planning announces, for the apps above it to act on (monitoring re-evaluates the
patient's flags, so a "plan not signed" or "review overdue" flag closes as soon as the
patient signs or the review is held). Planning itself imports nothing above it."""

from django.dispatch import Signal

# Sent inside the saving transaction with `patient_id` and `organisation_id`.
plan_signed = Signal()
review_held = Signal()
