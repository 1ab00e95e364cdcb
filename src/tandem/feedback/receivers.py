"""What the feedback app adds to the pages of apps below it (they cannot import it)."""

from tandem.feedback import views
from tandem.planning import events


def connect() -> None:
    # The review pages show the report the patient shared, beside their own words.
    events.review_opened.connect(views.review_panel, dispatch_uid="feedback-review-panel")
