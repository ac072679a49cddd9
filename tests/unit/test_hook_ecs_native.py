"""The ECS-native hook contract: always a hookStatus; waits are IN_PROGRESS with a
callBackDelay; rollbacks are answered without re-checking; repeats get the stored answer."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.hooks.ecs_native import EcsNativeHookDeps, answer_ecs_native_hook
from bluegreen.hooks.guard import Answered, CallGuard
from bluegreen.hooks.settings import EcsNativeHookSettings
from tests.unit.test_hook_fakes import (
    BLUE_TG,
    GREEN_TG,
    TD2,
    FakeClients,
    FakeContext,
    FakeTransport,
    MemoryStore,
    client_error,
)

pytestmark = pytest.mark.unit


SANDBOX = Answered()  # the answers the function's module remembers, as app.py's


@pytest.fixture(autouse=True)
def _fresh_sandbox() -> None:
    """Each test is a new Lambda sandbox: nothing answered yet in its memory."""
    SANDBOX.clear()


SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/web-cluster/web"
DEPLOYMENT_ARN = "arn:aws:ecs:us-east-1:123456789012:service-deployment/web-cluster/web/abc"
REVISION_ARN = "arn:aws:ecs:us-east-1:123456789012:service-revision/web-cluster/web/2"
TEST_RULE = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web-alb/aaaa/test/r1"
)


class NativeClients(FakeClients):
    """FakeClients plus the ECS-native reads."""

    def __init__(self, status: str = "IN_PROGRESS") -> None:
        super().__init__()
        self.deployment_status = status
        self.probed = 0
        ecs, elbv2 = self.ecs, self.elbv2
        ecs.describe_service_deployments = self._deployments  # type: ignore[attr-defined]
        ecs.describe_service_revisions = self._revisions  # type: ignore[attr-defined]
        ecs.describe_services = self._services  # type: ignore[attr-defined]
        elbv2.describe_rules = self._rules  # type: ignore[attr-defined]

    def _deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        return {
            "serviceDeployments": [
                {"serviceDeploymentArn": DEPLOYMENT_ARN, "status": self.deployment_status}
            ]
        }

    def _revisions(self, serviceRevisionArns: list[str]) -> dict[str, Any]:
        lb = {
            "targetGroupArn": GREEN_TG,
            "advancedConfiguration": {
                "alternateTargetGroupArn": BLUE_TG,
                "testListenerRule": TEST_RULE,
            },
        }
        return {
            "serviceRevisions": [
                {"serviceRevisionArn": REVISION_ARN, "taskDefinition": TD2, "loadBalancers": [lb]}
            ]
        }

    def _services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        return {
            "services": [
                {
                    "deployments": [
                        {
                            "taskDefinition": TD2,
                            "desiredCount": 2,
                            "runningCount": 2,
                            "rolloutState": "IN_PROGRESS",
                        }
                    ]
                }
            ]
        }

    def _rules(self, RuleArns: list[str]) -> dict[str, Any]:
        forward = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": GREEN_TG, "Weight": 100},
                    {"TargetGroupArn": BLUE_TG, "Weight": 0},
                ]
            },
        }
        return {
            "Rules": [
                {
                    "RuleArn": TEST_RULE,
                    "Actions": [forward],
                    "Conditions": [{"Field": "host-header", "Values": ["shop.example.com"]}],
                }
            ]
        }


def event(stage: str, hook_details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "executionId": "exec-1",
        "lifecycleStage": stage,
        "resourceArn": DEPLOYMENT_ARN,
        "executionDetails": {"serviceArn": SERVICE_ARN, "targetServiceRevisionArn": REVISION_ARN},
        "hookDetails": hook_details or {},
    }


def answer(
    clients: NativeClients,
    payload: Any,
    store: MemoryStore | None = None,
    transport: FakeTransport | None = None,
) -> dict[str, Any]:
    deps = EcsNativeHookDeps(
        clients=clients,
        guard=CallGuard(),
        answered=SANDBOX,
        load_table=lambda: "deployments",
        load_settings=lambda: EcsNativeHookSettings(DEPLOYMENTS_TABLE="deployments"),
        store_for=lambda _table: store,
        transport=transport or FakeTransport(),
    )
    return answer_ecs_native_hook(payload, FakeContext(), deps)


def test_post_test_traffic_checks_probe_the_green_side_through_the_test_rule() -> None:
    clients = NativeClients()
    transport = FakeTransport({"/": (200, "web:2", 3.0)})
    result = answer(
        clients,
        event("POST_TEST_TRAFFIC_SHIFT", {"hookConfig": {"allowedHosts": ["shop.example.com"]}}),
        transport=transport,
    )
    assert result["hookStatus"] == "SUCCEEDED", result
    url, headers = transport.requests[0]
    assert url.endswith(":8080/")
    assert headers["Host"] == "shop.example.com"  # the test rule's host condition


def test_an_open_verification_window_answers_in_progress_then_succeeds() -> None:
    clients = NativeClients()
    config = {
        "hookConfig": {"verification": {"windowSeconds": 60}, "waits": {"callBackDelaySeconds": 30}}
    }
    first = answer(clients, event("POST_PRODUCTION_TRAFFIC_SHIFT", config))
    second = answer(clients, event("POST_PRODUCTION_TRAFFIC_SHIFT", first["hookDetails"]))
    third = answer(clients, event("POST_PRODUCTION_TRAFFIC_SHIFT", second["hookDetails"]))
    assert [first["hookStatus"], second["hookStatus"], third["hookStatus"]] == [
        "IN_PROGRESS",
        "IN_PROGRESS",
        "SUCCEEDED",
    ]
    assert first["callBackDelay"] == 30
    assert second["hookDetails"]["bluegreen"] == {"attempt": 2, "waitedSeconds": 60.0}
    assert third["hookDetails"]["hookConfig"] == config["hookConfig"]  # the configuration travels


def test_a_wait_that_never_ends_gives_up_failed() -> None:
    clients = NativeClients()
    clients._services = lambda cluster, services: {"services": [{"deployments": []}]}  # type: ignore[method-assign]
    clients.ecs.describe_services = clients._services  # type: ignore[attr-defined]
    details = {
        "hookConfig": {"waits": {"maxWaitSeconds": 60}},
        "bluegreen": {"attempt": 2, "waitedSeconds": 60},
    }
    result = answer(clients, event("POST_SCALE_UP", details))
    assert result["hookStatus"] == "FAILED"
    assert "gave up after waiting 60s" in result["hookDetails"]["reason"]


def test_during_a_rollback_the_traffic_hooks_succeed_without_checking() -> None:
    clients = NativeClients(status="ROLLBACK_IN_PROGRESS")
    transport = FakeTransport({})  # any probe would fail
    result = answer(
        clients,
        event(
            "PRODUCTION_TRAFFIC_SHIFT",
            {"hookConfig": {"checks": {"PRODUCTION_TRAFFIC_SHIFT": ["httpProbes"]}}},
        ),
        transport=transport,
    )
    assert result["hookStatus"] == "SUCCEEDED"
    assert transport.requests == []


@pytest.mark.parametrize(
    "payload",
    [
        "not an object",
        {**event("POST_SCALE_UP"), "lifecycleStage": "SOMETIME"},
        {k: v for k, v in event("POST_SCALE_UP").items() if k != "executionDetails"},
    ],
    ids=["not-object", "unknown-stage", "no-details"],
)
def test_a_malformed_event_is_answered_failed(payload: Any) -> None:
    result = answer(NativeClients(), payload)
    assert result["hookStatus"] == "FAILED"
    assert result["hookDetails"]["reason"].startswith("MalformedHookEvent")


def test_a_throttled_call_or_bad_configuration_is_answered_failed() -> None:
    clients = NativeClients()
    clients.cloudwatch.error = client_error("ThrottlingException", "DescribeAlarms")
    throttled = answer(clients, event("PRE_SCALE_UP", {"hookConfig": {"alarms": ["web-5xx"]}}))
    misconfigured = event("PRE_SCALE_UP", {"hookConfig": {"minHealthy": -1}})
    misconfigured["executionId"] = "another-execution"
    bad = answer(clients, misconfigured)
    assert throttled["hookStatus"] == bad["hookStatus"] == "FAILED"
    assert "ThrottlingException" in throttled["hookDetails"]["reason"]
    assert "hookDetails.hookConfig: config.minHealthy" in bad["hookDetails"]["reason"]


def test_a_repeated_invocation_gets_the_stored_answer_without_rechecking() -> None:
    clients = NativeClients()
    store = MemoryStore()
    transport = FakeTransport()
    first = answer(clients, event("POST_TEST_TRAFFIC_SHIFT"), store, transport)
    again = answer(clients, event("POST_TEST_TRAFFIC_SHIFT"), store, transport)
    assert again == {**first, "duplicate": True}
    assert len(transport.requests) == 1


def test_when_ecs_cannot_be_asked_a_shift_back_to_blue_is_still_answered_as_a_rollback() -> None:
    # Given DescribeServiceDeployments throttled, and a PRODUCTION_TRAFFIC_SHIFT moving
    # the target revision to 0% (traffic going back), with an alarm in ALARM
    clients = NativeClients()
    clients.ecs.describe_service_deployments = lambda **_: (_ for _ in ()).throw(  # type: ignore[attr-defined]
        client_error("ThrottlingException", "DescribeServiceDeployments")
    )
    clients.cloudwatch.alarms = {"web-5xx": "ALARM"}
    backwards = event("PRODUCTION_TRAFFIC_SHIFT", {"hookConfig": {"alarms": ["web-5xx"]}})
    backwards["executionDetails"]["productionTrafficWeights"] = {"source": 100, REVISION_ARN: 0}
    forwards = event("PRODUCTION_TRAFFIC_SHIFT", {"hookConfig": {"alarms": ["web-5xx"]}})
    forwards["executionDetails"]["productionTrafficWeights"] = {"source": 0, REVISION_ARN: 100}
    forwards["executionId"] = "the-forward-shift"  # another hook execution than the rollback's

    # Then the rollback is not failed by the hook, and a forward shift is not waved through
    assert answer(clients, backwards)["hookStatus"] == "SUCCEEDED"
    assert answer(clients, forwards)["hookStatus"] == "FAILED"
