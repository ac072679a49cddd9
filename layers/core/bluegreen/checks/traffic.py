"""The synthetic traffic's gate: the errors it counted through the production listener.

`synthetic_traffic(figures, max_errors)` judges the running counts the synthetic traffic
function keeps in the deployment record (`bluegreen.synthetic.Counts.as_dict`): FAILED
beyond `max_errors` (non-2xx answers and connection errors, over the whole switch so far),
INCONCLUSIVE before any request was answered (no traffic proves nothing), else PASSED.
The figures (requests, errors per colour, statuses, connection errors) go into the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import CheckResult

SYNTHETIC_TRAFFIC = "syntheticTraffic"


def synthetic_traffic(figures: Mapping[str, Any] | None, max_errors: int) -> CheckResult:
    if not figures or not int(figures.get("requests", 0)):
        return CheckResult.inconclusive(
            SYNTHETIC_TRAFFIC,
            "no synthetic request sent through the production listener yet: nothing to judge",
            **dict(figures or {}),
        )
    requests, errors = int(figures["requests"]), int(figures.get("errors", 0))
    colours = figures.get("byColour") or {}
    per_colour = ", ".join(
        f"{name} {c.get('errors', 0)}/{c.get('requests', 0)}"
        for name, c in sorted(colours.items())
        if c.get("requests")
    )
    reason = (
        f"{errors} error(s) in {requests} request(s) through the production listener"
        + (f" ({per_colour})" if per_colour else "")
        + f", {max_errors} allowed"
    )
    if errors > max_errors:
        return CheckResult.failed(SYNTHETIC_TRAFFIC, reason, **dict(figures))
    return CheckResult.passed(SYNTHETIC_TRAFFIC, reason, **dict(figures))
