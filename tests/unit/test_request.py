"""Validation of an EC2 switch request: each wrong field is named, with the reason.

Bad input must be refused before anything changes (safety rule 5), so every field the
state machine reads is checked here, and the normalised request has every default filled.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bluegreen.errors import InvalidInput
from bluegreen.requests import parse_request

pytestmark = pytest.mark.unit

ELB = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
LISTENER = f"{ELB}:listener/app/shop-alb/0123abcd/4567ef01"
TEST_LISTENER = f"{ELB}:listener/app/shop-alb/0123abcd/89ab0123"
RULE = f"{ELB}:listener-rule/app/shop-alb/0123abcd/4567ef01/89ab"
BLUE = f"{ELB}:targetgroup/shop-blue/0a0a"
GREEN = f"{ELB}:targetgroup/shop-green/0b0b"

VALID: dict[str, Any] = {
    "platform": "EC2",
    "listeners": [LISTENER],
    "rules": [RULE],
    "blueTargetGroupArn": BLUE,
    "greenTargetGroupArn": GREEN,
    "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
    "alarms": ["shop-5xx", "shop-p99"],
    "healthCheck": {"minHealthy": 2, "timeoutSeconds": 600},
    "testTraffic": {
        "listenerArn": TEST_LISTENER,
        "probes": [{"path": "/health/deep", "expectStatus": 200}],
    },
}


def request(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(VALID)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = raw
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value
    return raw


_DROP = object()


def test_a_valid_request_is_normalised_with_every_default() -> None:
    parsed = parse_request(request())

    assert parsed["steps"] == [
        {"percent": 10, "bakeSeconds": 300},
        {"percent": 100, "bakeSeconds": 0},
    ]
    assert parsed["targetGroupArns"] == [BLUE, GREEN]
    assert parsed["healthCheck"] == {
        "minHealthy": 2,
        "timeoutSeconds": 600,
        "pollSeconds": 15,
        "maxPolls": 40,
    }
    assert "baseUrl" not in parsed["testTraffic"]
    assert parsed["testTraffic"]["probes"] == [
        {"path": "/health/deep", "expectStatus": 200, "timeoutSeconds": 5}
    ]
    assert (parsed["productionTraffic"], parsed["analysis"], parsed["syntheticTraffic"]) == (
        None,
        None,
        None,
    )
    assert parsed["whenInconclusive"] == {"extendSeconds": 300, "maxExtensions": 2, "then": "fail"}
    assert parsed["approval"] == {"required": False, "timeoutSeconds": 3600}
    assert (parsed["dryRun"], parsed["allowStartInAlarm"], parsed["revision"]) == (
        False,
        False,
        None,
    )
    assert (parsed["requestedBy"], parsed["metricChecks"]) == ("unknown", [])
    assert parsed["fleetChecks"] == "warn"  # findings recorded and shown, never refusing


def test_alarms_keep_the_callers_order_so_errors_can_name_them_by_position() -> None:
    parsed = parse_request(request(alarms=["zz-last", "aa-first"]))
    assert parsed["alarms"] == ["zz-last", "aa-first"]


def test_the_live_colour_can_be_left_to_the_current_weights() -> None:
    raw = request(
        blueTargetGroupArn=_DROP, greenTargetGroupArn=_DROP, targetGroupArns=[GREEN, BLUE]
    )
    parsed = parse_request(raw)
    assert parsed["targetGroupArns"] == [GREEN, BLUE]
    assert parsed["blueTargetGroupArn"] is None


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"listners": [LISTENER]}, "listners", "unknown field of an EC2 switch request"),
        ({"platform": "EKS"}, "platform", "must be one of EC2, ECS"),
        ({"listeners": LISTENER}, "listeners", "must be a list"),
        ({"listeners": [BLUE]}, "listeners[0]", "must be an ALB listener ARN"),
        ({"listeners": [LISTENER, LISTENER]}, "listeners", "twice"),
        ({"rules": [LISTENER]}, "rules[0]", "listener rule ARN"),
        ({"listeners": [], "rules": []}, "listeners", "at least one"),
        ({"blueTargetGroupArn": "blue"}, "blueTargetGroupArn", "target group ARN"),
        ({"greenTargetGroupArn": BLUE}, "greenTargetGroupArn", "must differ"),
        ({"targetGroupArns": [BLUE, GREEN]}, "targetGroupArns", "not both"),
        (
            {"strategy": {"type": "canary", "percent": 100, "bakeSeconds": 1}},
            "strategy.percent",
            "from 1 to 99",
        ),
        ({"alarms": "shop-5xx"}, "alarms", "must be a list"),
        ({"alarms": ["ok", ""]}, "alarms[1]", "must not be empty"),
        ({"alarms": ["a", "a"]}, "alarms", "lists 'a' twice"),
        ({"allowStartInAlarm": "yes"}, "allowStartInAlarm", "true or false"),
        ({"fleetChecks": "strict"}, "fleetChecks", "warn, enforce"),
        ({"metricChecks": [{"type": "p99Latency"}]}, "metricChecks[0].threshold", "is required"),
        (
            {"metricChecks": [{"type": "errors", "threshold": 1}]},
            "metricChecks[0].type",
            "must be one of",
        ),
        (
            {"metricChecks": [{"type": "custom", "threshold": 1}]},
            "metricChecks[0].metric",
            "namespace and name",
        ),
        (
            {"metricChecks": [{"type": "p99Latency", "threshold": 1, "comparison": "Equal"}]},
            "metricChecks[0].comparison",
            "must be one of",
        ),
        ({"healthCheck": {"minHealthy": 0}}, "healthCheck.minHealthy", "from 1 to 1000"),
        ({"healthCheck": {"pollSeconds": 1}}, "healthCheck.pollSeconds", "from 5 to 300"),
        ({"testTraffic__listenerArn": RULE}, "testTraffic.listenerArn", "ALB listener ARN"),
        # probes go to the test listener's own address: the request names no host
        ({"testTraffic__baseUrl": "http://x"}, "testTraffic.baseUrl", "no longer part"),
        ({"testTraffic__probes": []}, "testTraffic.probes", "at least 1 item"),
        ({"testTraffic__probes__0__path": "health"}, "testTraffic.probes[0].path", "absolute path"),
        # a probe cannot reach another host: no `//host` and no `user@host` in its path
        ({"testTraffic__probes__0__path": "//evil.example/x"}, "testTraffic.probes[0].path", ""),
        ({"testTraffic__probes__0__path": "/@evil.example"}, "testTraffic.probes[0].path", ""),
        ({"testTraffic__probes__0__expect": 700}, "testTraffic.probes[0].expect", "100 to 599"),
        # nor name a host the switch would not send
        ({"testTraffic__probes__0__host": "shop.example"}, "testTraffic.probes[0].host", "no Host"),
        ({"approval": {"required": "true"}}, "approval.required", "true or false"),
        (
            {"approval": {"required": True, "timeoutSeconds": 0}},
            "approval.timeoutSeconds",
            "from 1",
        ),
        ({"revision": {"application": "shop"}}, "revision.deploymentGroup", "is required"),
        ({"dryRun": 1}, "dryRun", "true or false"),
        ({"requestedBy": "x" * 300}, "requestedBy", "at most 256"),
        # nested typos are named with their full path, and the likely intended field
        ({"healthCheck__minHealty": 2}, "healthCheck.minHealty", "did you mean minHealthy?"),
        (
            {"strategy": {"type": "canary", "percent": 10, "bakeSeconds": 1, "finalBakeSecond": 1}},
            "strategy.finalBakeSecond",
            "unknown field of a canary strategy (did you mean finalBakeSeconds?)",
        ),
        (
            {"strategy": {"type": "steps", "steps": [{"percent": 5}, {"percent": 9}, {"pct": 1}]}},
            "strategy.steps[2].pct",
            "unknown field of a step",
        ),
        ({"testTraffic__probes__0__expected": 200}, "testTraffic.probes[0].expected", "expect"),
        # text that a terminal would show in another order, or that hides a line break
        ({"requestedBy": "alice\u202egpj.exe"}, "requestedBy", "U+202E at position 5"),
        ({"description": "ok\nFAKE: all good"}, "description", "U+000A"),
        ({"alarms": ["shop-5xx\x1b[2J"]}, "alarms[0]", "U+001B"),
    ],
)
def test_a_wrong_field_is_named_with_the_reason(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_request(request(**changes))
    assert refused.value.field == field
    assert reason in refused.value.reason


@pytest.mark.parametrize("document", [["EC2"], "EC2", 42, None, True])
def test_anything_but_an_object_is_refused_naming_the_whole_input(document: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_request(document)
    assert refused.value.field == "$"
    assert "must be an object" in refused.value.reason


def test_several_problems_are_named_together_the_typo_first() -> None:
    # Given a typo that also leaves a required field missing, and a second wrong field
    raw = request(strategy={"type": "canary", "percent": 10, "bakeSecond": 60}, dryRun=1)
    # When it is parsed, Then the typo is named first and the others are listed after it
    with pytest.raises(InvalidInput) as refused:
        parse_request(raw)
    assert refused.value.field == "strategy.bakeSecond"
    assert "(also wrong: dryRun, strategy.bakeSeconds)" in refused.value.reason


def test_the_sample_request_in_events_is_valid(load_event: Any) -> None:
    assert parse_request(load_event("switch_request"))["platform"] == "EC2"
