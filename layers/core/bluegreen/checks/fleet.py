"""Is the idle target group set up so that a switch can trust it?

Pure functions over what `DescribeTargetGroups` and `DescribeTargetGroupAttributes`
return for the idle target group, plus the request's `healthCheck.minHealthy` and the
number of targets registered in the group. Each setting below its documented safe value
is a `Finding` naming the setting, its value, the safe value and why; `refuse` findings
mean the switch should not start, `warn` findings should be shown to the person who
asked for it. The safe values and the reasons behind them are in docs/operations.md
("Fleet settings the switch relies on").

    findings = fleet_findings(group, attributes, min_healthy=2, registered=2)
    refused = [f for f in findings if f.severity == REFUSE]
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

WARN = "warn"
REFUSE = "refuse"

DEREGISTRATION_DELAY = "deregistration_delay.timeout_seconds"
# The longest request the application serves, when the caller does not say: above the
# ALB's idle timeout for a quiet connection (60 s) is the caller's to declare.
DEFAULT_LONGEST_REQUEST_SECONDS = 30
MAX_FAST_DEREGISTRATION_SECONDS = 120  # beyond: every drain holds a switch or rollback
MAX_INTERVAL_SECONDS = 15  # detection time = interval x unhealthy threshold
MAX_UNHEALTHY_THRESHOLD = 3
MAX_HEALTHY_THRESHOLD = 5
MAX_DETECTION_SECONDS = 45  # a failing target keeps traffic at most this long
_CODE_RANGE = re.compile(r"^\s*(\d{3})\s*(?:-\s*(\d{3}))?\s*$")


@dataclass(frozen=True)
class Finding:
    """One setting outside its safe value."""

    setting: str  # the AWS attribute or request field, as the API names it
    value: Any
    safe: str  # the safe value, in words a person can act on
    severity: str  # warn | refuse
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fleet_findings(
    target_group: Mapping[str, Any],
    attributes: Iterable[Mapping[str, str]] | Mapping[str, str],
    *,
    min_healthy: int,
    registered: int,
    longest_request_seconds: int = DEFAULT_LONGEST_REQUEST_SECONDS,
) -> list[Finding]:
    """Every finding for the idle group, most serious first (empty: all settings safe).

    `target_group`: one item of DescribeTargetGroups' `TargetGroups`; `attributes`:
    DescribeTargetGroupAttributes' `Attributes` (a list of Key/Value) or a plain dict.
    """
    name = str(target_group.get("TargetGroupName") or target_group.get("TargetGroupArn", "?"))
    values = _attributes(attributes)
    findings = [
        *_deregistration(name, values, longest_request_seconds),
        *_health_check(name, target_group),
        *_targets(name, min_healthy, registered),
    ]
    return sorted(findings, key=lambda f: f.severity != REFUSE)


def refusals(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == REFUSE]


def summary(findings: Iterable[Finding]) -> str:
    """One line per finding, `refuse`/`warn` first: for a record, an error or a log."""
    return "; ".join(f"{f.severity}: {f.message}" for f in findings)


# -- deregistration delay ---------------------------------------------------------------------
def _deregistration(name: str, values: Mapping[str, str], longest_request: int) -> list[Finding]:
    raw = values.get(DEREGISTRATION_DELAY)
    if raw is None:
        return []  # not returned: AWS's default (300 s) applies, reported as such by AWS
    delay = int(raw)
    if delay < longest_request:
        return [
            Finding(
                DEREGISTRATION_DELAY,
                delay,
                f">= {longest_request} s (the application's longest request)",
                REFUSE,
                f"{name}: {DEREGISTRATION_DELAY} is {delay} s, shorter than the longest "
                f"request ({longest_request} s): requests in flight are cut when a target "
                f"drains; set it to at least {longest_request} s",
            )
        ]
    if delay > MAX_FAST_DEREGISTRATION_SECONDS:
        return [
            Finding(
                DEREGISTRATION_DELAY,
                delay,
                f"{longest_request}-{MAX_FAST_DEREGISTRATION_SECONDS} s",
                WARN,
                f"{name}: {DEREGISTRATION_DELAY} is {delay} s: every drain (old tasks after "
                f"an ECS release, instances replaced after a switch) waits that long; "
                f"{max(longest_request, 60)} s is enough for requests of {longest_request} s",
            )
        ]
    return []


# -- health check ----------------------------------------------------------------------------
def _health_check(name: str, group: Mapping[str, Any]) -> list[Finding]:
    if group.get("HealthCheckEnabled") is False:
        return [
            Finding(
                "HealthCheckEnabled",
                False,
                "true",
                REFUSE,
                f"{name}: health checks are disabled: every target counts as healthy, so "
                "`minHealthy` proves nothing; enable them",
            )
        ]
    findings: list[Finding] = []
    findings += _path(name, group)
    findings += _matcher(name, group)
    findings += _timing(name, group)
    return findings


def _path(name: str, group: Mapping[str, Any]) -> list[Finding]:
    if str(group.get("HealthCheckProtocol", "HTTP")).upper() not in {"HTTP", "HTTPS"}:
        return []
    path = str(group.get("HealthCheckPath") or "/")
    if path.split("?", 1)[0].rstrip("/") != "":
        return []
    return [
        Finding(
            "HealthCheckPath",
            path,
            "a health path that reaches the application, e.g. /health",
            WARN,
            f"{name}: HealthCheckPath is {path!r}: nginx (or a static page) can answer it with "
            "the application processes down; use a path the application answers, e.g. /health",
        )
    ]


def _matcher(name: str, group: Mapping[str, Any]) -> list[Finding]:
    matcher = group.get("Matcher") or {}
    codes = str(matcher.get("HttpCode") or "200")
    highest = max((_highest_code(part) for part in codes.split(",")), default=200)
    if highest < 300:
        return []
    severity = REFUSE if highest >= 500 else WARN
    effect = (
        "an erroring target stays in service"
        if highest >= 500
        else "a redirect or a missing route passes"
    )
    return [
        Finding(
            "Matcher.HttpCode",
            codes,
            "200 (or 200-299)",
            severity,
            f"{name}: Matcher.HttpCode {codes!r} counts a {highest} answer as healthy "
            f"({effect}); match 200",
        )
    ]


def _highest_code(part: str) -> int:
    match = _CODE_RANGE.match(part)
    if not match:
        return 200
    return int(match.group(2) or match.group(1))


def _timing(name: str, group: Mapping[str, Any]) -> list[Finding]:
    interval = int(group.get("HealthCheckIntervalSeconds", 30))
    unhealthy = int(group.get("UnhealthyThresholdCount", 2))
    healthy = int(group.get("HealthyThresholdCount", 5))
    findings = []
    detection = interval * unhealthy
    if interval > MAX_INTERVAL_SECONDS:
        findings.append(
            Finding(
                "HealthCheckIntervalSeconds",
                interval,
                f"<= {MAX_INTERVAL_SECONDS} s",
                WARN,
                f"{name}: HealthCheckIntervalSeconds is {interval} s: a failing target keeps "
                f"traffic for up to {detection} s (interval x UnhealthyThresholdCount); "
                f"use 10 s",
            )
        )
    if unhealthy > MAX_UNHEALTHY_THRESHOLD or (
        detection > MAX_DETECTION_SECONDS and interval <= MAX_INTERVAL_SECONDS
    ):
        findings.append(
            Finding(
                "UnhealthyThresholdCount",
                unhealthy,
                f"2-{MAX_UNHEALTHY_THRESHOLD}, with interval x threshold <= "
                f"{MAX_DETECTION_SECONDS} s",
                WARN,
                f"{name}: UnhealthyThresholdCount is {unhealthy}: a failing target is taken "
                f"out only after {detection} s; use 2 or 3",
            )
        )
    if healthy > MAX_HEALTHY_THRESHOLD:
        findings.append(
            Finding(
                "HealthyThresholdCount",
                healthy,
                f"2-{MAX_HEALTHY_THRESHOLD}",
                WARN,
                f"{name}: HealthyThresholdCount is {healthy}: a new target waits "
                f"{interval * healthy} s before it counts as healthy; use 3",
            )
        )
    return findings


# -- minHealthy against the registered targets -----------------------------------------------
def _targets(name: str, min_healthy: int, registered: int) -> list[Finding]:
    if registered <= 0:
        return [
            Finding(
                "registered targets",
                registered,
                ">= 1",
                REFUSE,
                f"{name} has no registered target: register the idle colour's instances or "
                "tasks before switching to it",
            )
        ]
    if min_healthy >= registered:
        return []
    half = math.ceil(registered / 2)
    return [
        Finding(
            "healthCheck.minHealthy",
            min_healthy,
            f"{registered} (every registered target)",
            REFUSE if min_healthy < half else WARN,
            f"{name}: healthCheck.minHealthy is {min_healthy} but {registered} targets are "
            f"registered: traffic would move while {registered - min_healthy} of them fail; "
            f"set it to {registered} (all targets healthy)",
        )
    ]


def _attributes(attributes: Iterable[Mapping[str, str]] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(attributes, Mapping):
        return {str(k): str(v) for k, v in attributes.items()}
    return {str(a["Key"]): str(a["Value"]) for a in attributes}
