"""ECS switch requests: every field is checked before anything changes, by name."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.errors import InvalidInput
from bluegreen.requests import parse_request

pytestmark = pytest.mark.unit


def request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "platform": "ECS",
        "mode": "codedeploy",
        "cluster": "web-cluster",
        "service": "web",
        "taskDefinition": "web:2",
        "container": {"name": "app", "port": 80},
        "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
        "alarms": ["web-5xx"],
        "codeDeploy": {"application": "web-app", "deploymentGroup": "web-dg"},
    }
    base.update(overrides)
    return base


def refused(raw: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_request(raw)
    return caught.value


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"mode": "rolling"}, "mode", "must be one of codedeploy, ecs-native"),
        ({"cluster": ""}, "cluster", "must not be empty"),
        ({"cluster": "web cluster"}, "cluster", "must be an ECS cluster or service name or ARN"),
        ({"taskDefinition": "web:two"}, "taskDefinition", "task definition ARN or family"),
        ({"image": "bad image"}, "image", "container image reference"),
        ({"container": {"name": "app", "port": 0}}, "container.port", "from 1 to 65535"),
        (
            {"strategy": {"type": "canary", "percent": 10, "bakeSeconds": 90}},
            "strategy.bakeSeconds",
            "whole minutes",
        ),
        (
            {"strategy": {"type": "linear", "stepPercent": 30, "stepBakeSeconds": 60}},
            "strategy.stepPercent",
            "divide 100",
        ),
        (
            {"strategy": {"type": "steps", "steps": [{"percent": 100}]}},
            "strategy.type",
            "not explicit steps",
        ),
        ({"codeDeploy": None}, "codeDeploy", "must be an object"),
        ({"hooks": {"minHealthy": "two"}}, "hooks.minHealthy", "must be a whole number"),
        ({"hooks": {"nope": 1}}, "hooks.nope", "unknown field of a hook configuration"),
        (
            {"hooks": {"probes": [{"path": "/", "expectStatu": 200}]}},
            "hooks.probes[0].expectStatu",
            "did you mean expectStatus?",
        ),
        ({"container": {"name": "app", "port": 80, "prot": 1}}, "container.prot", "port"),
        ({"codeDeploy": {"application": "a", "deploymentGroup": "g", "x": 1}}, "codeDeploy.x", ""),
        # a field of the other mode is refused, not ignored
        ({"ecsNative": {"stages": ["PRE_SCALE_UP"]}}, "ecsNative", "codedeploy mode"),
        ({"monitor": {"pollSeconds": 1}}, "monitor.pollSeconds", "from 5 to 300"),
        ({"colour": "green"}, "colour", "unknown field of an ECS switch request"),
    ],
)
def test_each_bad_field_is_named_with_its_reason(
    overrides: dict[str, Any], field: str, reason: str
) -> None:
    error = refused(request(**overrides))
    assert error.field == field
    assert reason in error.reason


def test_a_canary_that_codedeploy_knows_uses_the_predefined_config() -> None:
    parsed = parse_request(request())
    assert parsed["deploymentConfig"] == {
        "name": "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "custom": None,
    }


def test_any_other_canary_gets_a_custom_config_with_the_same_routing() -> None:
    parsed = parse_request(request(strategy={"type": "canary", "percent": 25, "bakeSeconds": 600}))
    assert parsed["deploymentConfig"] == {
        "name": "bluegreen.ECSCanary25Percent10Minutes",
        "custom": {
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 10},
        },
    }


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (
            {"type": "all-at-once", "bakeSeconds": 120},
            {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2},
        ),
        (
            {"type": "canary", "percent": 5, "bakeSeconds": 300, "finalBakeSeconds": 60},
            {
                "strategy": "CANARY",
                "bakeTimeInMinutes": 1,
                "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 5},
            },
        ),
        (
            {"type": "linear", "stepPercent": 20, "stepBakeSeconds": 120},
            {
                "strategy": "LINEAR",
                "bakeTimeInMinutes": 2,
                "linearConfiguration": {"stepPercent": 20.0, "stepBakeTimeInMinutes": 2},
            },
        ),
    ],
)
def test_ecs_native_strategies_map_to_the_service_deployment_configuration(
    strategy: dict[str, Any], expected: dict[str, Any]
) -> None:
    raw = request(mode="ecs-native", strategy=strategy)
    del raw["codeDeploy"]
    assert parse_request(raw)["deploymentConfiguration"] == expected


def test_the_switch_alarms_also_guard_the_hooks() -> None:
    parsed = parse_request(request(hooks={"minHealthy": 2}))
    assert parsed["hooks"] == {"minHealthy": 2, "alarms": ["web-5xx"]}


@pytest.mark.parametrize("name", ["switch_request_ecs_codedeploy", "switch_request_ecs_native"])
def test_the_sample_ecs_requests_in_events_are_valid(name: str) -> None:
    from tests.conftest import load_event

    parsed = parse_request(load_event(name))
    assert parsed["platform"] == "ECS"
    assert parsed["mode"] in {"codedeploy", "ecs-native"}


def test_polling_backs_off_while_the_platform_waits_and_resets_when_it_moves() -> None:
    from bluegreen.switch.ecs import MAX_POLL_SECONDS, next_delay

    progress = {"delaySeconds": 15, "events": {"AllowTraffic": "InProgress"}}
    # while nothing changes, each wait doubles, up to the cap
    delays = []
    for _ in range(6):
        progress["delaySeconds"] = next_delay(15, progress, progress["events"])
        delays.append(progress["delaySeconds"])
    assert delays == [30, 60, 120, MAX_POLL_SECONDS, MAX_POLL_SECONDS, MAX_POLL_SECONDS]
    # a lifecycle change brings it back to the request's poll interval
    assert next_delay(15, progress, {"AllowTraffic": "Succeeded"}) == 15
