"""What planning announces, for the apps above it to act on (monitoring re-evaluates the
patient's flags, so a "plan not signed" or "review overdue" flag closes as soon as the
patient signs or the review is held). Planning itself imports nothing above it."""

from django.dispatch import Signal

# Sent inside the saving transaction with `patient_id` and `organisation_id`.
plan_signed = Signal()
review_held = Signal()
# A change the patient proposed was answered (accepted or not): `proposal`.
proposal_answered = Signal()

# Sent as a staff page of a review is shown (to hold one: `review` None; or one held), with
# `patient` and `review`. Each receiver returns a panel for the page, a dict with "template"
# and that template's context (the feedback app's shared report), or None.
review_opened = Signal()

# Sent as the printable recovery plan is made (the print page and its PDF), with `patient`.
# Each receiver returns a panel for the print, a dict with "template" and that template's
# context (the medication app's current medication plan), or None.
plan_printing = Signal()
