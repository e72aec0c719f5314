"""Every step a catalog item may name: the core library (kiosk.steps) and the service-hall
steps beside it. Import this, not a step module, to know or run the whole library."""

from __future__ import annotations

import kiosk.evaluation  # noqa: F401  - registers its steps
import kiosk.steps_documents  # noqa: F401  - registers its steps
import kiosk.steps_services  # noqa: F401  - registers its steps
from kiosk.steps import STEPS, known_steps

__all__ = ["STEPS", "known_steps"]
