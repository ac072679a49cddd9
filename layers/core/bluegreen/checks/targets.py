"""The green target group has at least `minHealthy` healthy targets."""

from __future__ import annotations

from .model import CheckContext, CheckResult

TARGET_HEALTH = "targetHealth"


def target_health(ctx: CheckContext) -> CheckResult:
    groups = ctx.target.green_target_groups
    minimum = ctx.config.min_healthy
    if not groups:
        return CheckResult.failed(TARGET_HEALTH, "no green target group found to check")
    summaries = []
    for arn in groups:
        states = [
            d["TargetHealth"]["State"]
            for d in ctx.clients.elbv2.describe_target_health(TargetGroupArn=arn)[
                "TargetHealthDescriptions"
            ]
        ]
        healthy = states.count("healthy")
        summary = f"{arn.rsplit('/', 2)[-2]}: {healthy}/{len(states)} healthy"
        if healthy < minimum:
            if "initial" in states:
                return CheckResult.pending(
                    TARGET_HEALTH, f"{summary}, some still initial (need {minimum})"
                )
            return CheckResult.failed(TARGET_HEALTH, f"{summary}, need at least {minimum}")
        summaries.append(summary)
    return CheckResult.passed(TARGET_HEALTH, "; ".join(summaries))
