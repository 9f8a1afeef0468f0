"""The one time bound tests may use: a hang guard, not a speed target (tests never fail on
timing; speeds are measured in ``bench/``). Input built to make a pattern backtrack takes minutes or
forever when the class of bug is back, and milliseconds otherwise: a minute tells them apart on any
machine, however loaded."""

from __future__ import annotations

HANG_S = 60.0
