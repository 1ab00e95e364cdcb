"""Every figure of the service report, in page order: section by section."""

from __future__ import annotations

from tandem.reporting.figures import balance, dependence, harm, outcomes, reviews
from tandem.reporting.figures.base import Figure

FIGURES: list[Figure] = [*balance.FIGURES, *harm.FIGURES, *dependence.FIGURES,
                         *reviews.FIGURES, *outcomes.FIGURES]
BY_KEY: dict[str, Figure] = {f.key: f for f in FIGURES}
