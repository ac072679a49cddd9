"""The idle target group's settings, judged before a switch trusts them.

Given what DescribeTargetGroups / DescribeTargetGroupAttributes return and the request's
minHealthy, each unsafe setting is named with its safe value and a severity; a group
set up like examples/ec2-fleet passes with no finding.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.checks.fleet import REFUSE, WARN, Finding, fleet_findings, refusals, summary

pytestmark = pytest.mark.unit

SAFE_GROUP: dict[str, Any] = {
    "TargetGroupName": "shop-green",
    "TargetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1234:targetgroup/shop-green/1d2e",
    "HealthCheckEnabled": True,
    "HealthCheckProtocol": "HTTP",
    "HealthCheckPath": "/health",
    "HealthCheckIntervalSeconds": 10,
    "HealthCheckTimeoutSeconds": 5,
    "HealthyThresholdCount": 3,
    "UnhealthyThresholdCount": 2,
    "Matcher": {"HttpCode": "200"},
}
SAFE_ATTRIBUTES = [
    {"Key": "deregistration_delay.timeout_seconds", "Value": "60"},
    {"Key": "stickiness.enabled", "Value": "false"},
]


def findings(
    group: dict[str, Any] | None = None,
    attributes: Any = None,
    min_healthy: int = 2,
    registered: int = 2,
    **kwargs: Any,
) -> list[Finding]:
    return fleet_findings(
        {**SAFE_GROUP, **(group or {})},
        SAFE_ATTRIBUTES if attributes is None else attributes,
        min_healthy=min_healthy,
        registered=registered,
        **kwargs,
    )


def by_setting(found: list[Finding]) -> dict[str, tuple[str, Any]]:
    return {f.setting: (f.severity, f.value) for f in found}


def test_a_group_set_up_like_the_example_fleet_has_no_finding() -> None:
    assert findings() == []


def test_a_deregistration_delay_shorter_than_the_longest_request_is_refused() -> None:
    # Given a group that drains in 10 s and an application whose requests take 30 s
    found = findings(attributes={"deregistration_delay.timeout_seconds": "10"})

    # Then the switch is refused, naming the attribute and the safe value
    (finding,) = found
    assert (finding.setting, finding.severity, finding.value) == (
        "deregistration_delay.timeout_seconds",
        REFUSE,
        10,
    )
    assert ">= 30 s" in finding.safe
    assert "requests in flight are cut" in finding.message


def test_the_longest_request_is_the_callers_to_declare() -> None:
    found = findings(longest_request_seconds=90)  # 60 s delay, 90 s requests
    assert by_setting(found) == {"deregistration_delay.timeout_seconds": (REFUSE, 60)}


def test_the_aws_default_deregistration_delay_is_a_warning_for_a_fast_switch() -> None:
    found = findings(attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}])
    (finding,) = found
    assert (finding.severity, finding.value) == (WARN, 300)
    assert "waits that long" in finding.message


def test_a_slow_health_check_is_named_with_the_time_a_failing_target_keeps_traffic() -> None:
    # Given AWS's defaults for interval (30 s) and healthy threshold (5), unhealthy 5
    found = findings(
        {
            "HealthCheckIntervalSeconds": 30,
            "UnhealthyThresholdCount": 5,
            "HealthyThresholdCount": 10,
        }
    )

    # Then each timing setting is a warning, with the seconds it costs
    assert by_setting(found) == {
        "HealthCheckIntervalSeconds": (WARN, 30),
        "UnhealthyThresholdCount": (WARN, 5),
        "HealthyThresholdCount": (WARN, 10),
    }
    interval = next(f for f in found if f.setting == "HealthCheckIntervalSeconds")
    assert "up to 150 s" in interval.message


def test_a_fast_interval_with_a_high_threshold_still_detects_too_late() -> None:
    found = findings({"HealthCheckIntervalSeconds": 15, "UnhealthyThresholdCount": 3 + 1})
    assert by_setting(found) == {"UnhealthyThresholdCount": (WARN, 4)}


def test_the_root_path_is_a_warning_and_a_deep_path_is_fine() -> None:
    assert by_setting(findings({"HealthCheckPath": "/"})) == {"HealthCheckPath": (WARN, "/")}
    assert findings({"HealthCheckPath": "/health/deep"}) == []


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ("200", None),
        ("200-299", None),
        ("200,302", WARN),
        ("200-399", WARN),
        ("200-499", WARN),
        ("200-599", REFUSE),
    ],
)
def test_a_matcher_that_counts_errors_as_healthy(codes: str, expected: str | None) -> None:
    found = by_setting(findings({"Matcher": {"HttpCode": codes}}))
    assert found.get("Matcher.HttpCode", (None,))[0] == expected


def test_disabled_health_checks_are_refused() -> None:
    found = findings({"HealthCheckEnabled": False, "HealthCheckPath": "/"})
    assert by_setting(found) == {"HealthCheckEnabled": (REFUSE, False)}


@pytest.mark.parametrize(
    ("min_healthy", "registered", "expected"),
    [
        (4, 4, None),
        (5, 4, None),  # the gate waits for more than exist: the switch's own timeout says so
        (3, 4, WARN),
        (2, 4, WARN),
        (1, 4, REFUSE),
        (1, 3, REFUSE),
        (2, 3, WARN),
    ],
)
def test_min_healthy_below_the_registered_targets_is_not_all_targets_healthy(
    min_healthy: int, registered: int, expected: str | None
) -> None:
    found = by_setting(findings(min_healthy=min_healthy, registered=registered))
    assert found.get("healthCheck.minHealthy", (None,))[0] == expected


def test_a_group_with_no_registered_target_is_refused() -> None:
    found = findings(min_healthy=1, registered=0)
    assert by_setting(found) == {"registered targets": (REFUSE, 0)}


def test_refusals_come_first_and_the_summary_names_every_setting() -> None:
    # Given a group with one warning and one refusal
    found = findings(
        {"HealthCheckPath": "/"}, attributes={"deregistration_delay.timeout_seconds": "5"}
    )

    # Then the refusal is first, and the summary line says both
    assert [f.severity for f in found] == [REFUSE, WARN]
    assert refusals(found) == found[:1]
    text = summary(found)
    assert text.startswith("refuse: shop-green: deregistration_delay.timeout_seconds is 5 s")
    assert "warn: shop-green: HealthCheckPath is '/'" in text
    assert found[0].as_dict()["setting"] == "deregistration_delay.timeout_seconds"
