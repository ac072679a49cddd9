"""Target health: a target group has at least `minHealthy` healthy targets.

`group_health(elbv2, arn, minimum)` is the one reading of `DescribeTargetHealth` for
every caller: the EC2 switch before any weight moves to the idle group and at every gate,
and the hooks' `targetHealth` check on the green target groups. It answers PASSED with
enough healthy targets, PENDING while some targets are still `initial` (registering,
health checks not yet passed), FAILED otherwise, with the counts and the first problems.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .model import CheckContext, CheckResult, Outcome

TARGET_HEALTH = "targetHealth"
SHOWN_PROBLEMS = 5


def group_health(
    elbv2: Any, target_group_arn: str, minimum: int, check: str = TARGET_HEALTH
) -> CheckResult:
    """Is `target_group_arn` healthy enough to take (or keep) traffic?"""
    described = elbv2.describe_target_health(TargetGroupArn=target_group_arn)[
        "TargetHealthDescriptions"
    ]
    states = Counter(str(d["TargetHealth"]["State"]) for d in described)
    problems = [_problem(d) for d in described if d["TargetHealth"]["State"] != "healthy"]
    healthy = states.get("healthy", 0)
    name = target_group_arn.rsplit("/", 2)[-2] if target_group_arn.count("/") >= 2 else "?"
    reason = f"{name}: {healthy}/{len(described)} healthy, need {minimum}"
    if problems:
        reason += "; " + "; ".join(problems[:SHOWN_PROBLEMS])
    figures = {
        "targetGroupArn": target_group_arn,
        "healthy": healthy,
        "registered": len(described),
        "minHealthy": minimum,
        "states": dict(sorted(states.items())),
    }
    if healthy >= minimum:
        return CheckResult.passed(check, reason, **figures)
    if states.get("initial"):
        return CheckResult.pending(check, f"{reason} (some still initial)", **figures)
    return CheckResult.failed(check, reason, **figures)


def _problem(description: dict[str, Any]) -> str:
    health = description["TargetHealth"]
    why = health.get("Reason") or health.get("Description") or ""
    return f"{description['Target']['Id']}: {health['State']} {why}".strip()


def target_health(ctx: CheckContext) -> CheckResult:
    """Every green target group of the release has `minHealthy` healthy targets."""
    groups = ctx.target.green_target_groups
    if not groups:
        return CheckResult.failed(TARGET_HEALTH, "no green target group found to check")
    results = [group_health(ctx.clients.elbv2, arn, ctx.config.min_healthy) for arn in groups]
    figures = {"groups": [r.details for r in results]}
    for outcome in (Outcome.FAILED, Outcome.PENDING):
        worse = [r for r in results if r.outcome is outcome]
        if worse:
            return CheckResult(TARGET_HEALTH, outcome, "; ".join(r.reason for r in worse), figures)
    return CheckResult.passed(TARGET_HEALTH, "; ".join(r.reason for r in results), **figures)
