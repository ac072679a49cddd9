"""The EC2 plan's fleet checks: the idle target group's settings, judged before anything
changes (`bluegreen.checks.fleet`).

The request's `fleetChecks` says what a finding does: `warn` (the default) records every
finding in the plan and the record, and the CLI shows them; `enforce` also refuses the
switch, in the read-only first state, on a finding whose severity is `refuse` (a
deregistration delay shorter than the longest request, health checks disabled, a 5xx
matcher, `minHealthy` below half the registered targets, no target at all), naming the
setting and its safe value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..checks.fleet import fleet_findings, refusals, summary
from ..errors import InvalidInput

WARN = "warn"
ENFORCE = "enforce"


def judge_idle_group(
    elbv2: Any,
    request: Mapping[str, Any],
    idle: str,
    described: Mapping[str, Any],
    field: str,
) -> dict[str, Any]:
    """The fleet checks of `idle` (`described`: its DescribeTargetGroups entry; `field`:
    the request field naming it), as the plan records them; raises InvalidInput when the
    request enforces them and one refuses."""
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=idle)["Attributes"]
    registered = elbv2.describe_target_health(TargetGroupArn=idle)["TargetHealthDescriptions"]
    findings = fleet_findings(
        described,
        attributes,
        min_healthy=int(request["healthCheck"]["minHealthy"]),
        registered=len(registered),
    )
    mode = str(request.get("fleetChecks", WARN))
    refused = refusals(findings)
    if mode == ENFORCE and refused:
        first = refused[0]
        where = first.setting if first.setting.startswith("healthCheck.") else field
        raise InvalidInput(
            where,
            f"{first.message} (safe: {first.safe}; fleetChecks is enforce)",
        )
    return {
        "mode": mode,
        "targetGroupArn": idle,
        "findings": [finding.as_dict() for finding in findings],
        "summary": summary(findings),
    }
