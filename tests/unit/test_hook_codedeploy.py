"""The CodeDeploy hook contract: every path reports exactly one status, once.

Given fake AWS clients, each fault a hook meets in real life (an exception inside a
check, a throttled AWS call, too little time left, a malformed event, a missing or bad
configuration) must end in exactly one `Failed` report; a duplicate invocation reports
nothing more; a failure to report is raised.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen.errors import InvalidConfiguration
from bluegreen.hooks.codedeploy import CodeDeployHookDeps, answer_codedeploy_hook
from bluegreen.hooks.errors import HookReportFailed, MalformedHookEvent
from bluegreen.hooks.guard import Answered, CallGuard
from bluegreen.hooks.settings import CodeDeployHookSettings
from tests.unit.test_hook_fakes import (
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


EVENT = {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": "exec-1"}


def settings(event: str = "AfterAllowTestTraffic", **overrides: Any) -> CodeDeployHookSettings:
    return CodeDeployHookSettings(
        LIFECYCLE_EVENT=event, DEPLOYMENTS_TABLE="deployments", **overrides
    )


def deps(
    clients: FakeClients, store: MemoryStore | None = None, **kwargs: Any
) -> CodeDeployHookDeps:
    chosen = kwargs.pop("settings", settings())
    load = kwargs.pop("load_settings", lambda: chosen)
    return CodeDeployHookDeps(
        clients=clients,
        guard=CallGuard(),
        answered=SANDBOX,
        load_table=lambda: "deployments",
        load_settings=load,
        store_for=lambda _table: store,
        transport=kwargs.pop("transport", FakeTransport()),
        sleep=kwargs.pop("sleep", lambda _s: None),
    )


def statuses(clients: FakeClients) -> list[str]:
    return [r["status"] for r in clients.codedeploy.reports]


def test_a_healthy_release_is_reported_succeeded_once() -> None:
    clients = FakeClients()
    answer = answer_codedeploy_hook(EVENT, FakeContext(), deps(clients))
    assert statuses(clients) == ["Succeeded"]
    assert clients.codedeploy.reports[0]["lifecycleEventHookExecutionId"] == "exec-1"
    assert answer["status"] == "Succeeded"


def test_an_exception_inside_a_check_is_reported_failed_once() -> None:
    clients = FakeClients()
    clients.ecs.task_sets = None  # type: ignore[assignment] - makes describe_task_sets blow up
    answer = answer_codedeploy_hook(EVENT, FakeContext(), deps(clients))
    assert statuses(clients) == ["Failed"]
    assert answer["reason"].startswith("unexpected TypeError")


def test_a_throttled_aws_call_is_reported_failed_once() -> None:
    clients = FakeClients()
    clients.cloudwatch.error = client_error("ThrottlingException", "DescribeAlarms")
    answer = answer_codedeploy_hook(
        EVENT, FakeContext(), deps(clients, settings=settings("BeforeInstall"))
    )
    # the default BeforeInstall check is pre-flight; alarms must be configured to be read
    assert statuses(clients) == ["Succeeded"]
    clients.codedeploy.reports.clear()
    clients.dynamodb.items[("HOOKCONFIG#d-ABCDEFGHI", "CONFIG")] = {
        "config": {"S": json.dumps({"alarms": ["web-5xx"]})}
    }
    next_hook = {**EVENT, "LifecycleEventHookExecutionId": "exec-after-config"}
    answer = answer_codedeploy_hook(
        next_hook, FakeContext(), deps(clients, settings=settings("BeforeInstall"))
    )
    assert statuses(clients) == ["Failed"]
    assert "ThrottlingException" in answer["reason"]


def test_with_less_time_left_than_the_reserve_no_check_runs_and_failed_is_reported() -> None:
    # Given a function with 20 s left: less than two AWS calls' worst case plus the margin
    clients = FakeClients()
    context = FakeContext(remaining_ms=20_000)
    # When CodeDeploy invokes it
    answer = answer_codedeploy_hook(EVENT, context, deps(clients))
    # Then it answers at once, Failed, saying it had no time, having asked ECS nothing
    assert statuses(clients) == ["Failed"]
    assert answer["reason"].startswith("OutOfTime: no time left"), answer["reason"]
    assert clients.ecs.calls == 0


def test_an_aws_call_past_the_deadline_is_refused_before_it_is_sent() -> None:
    # Given a real botocore client with the hooks' call guard and an expired deadline
    import boto3

    from bluegreen.hooks.errors import OutOfTime
    from bluegreen.hooks.guard import HOOK_CLIENT_CONFIG, deadline_of

    guard = CallGuard()
    client = guard.install(
        boto3.client(
            "dynamodb",
            region_name="us-east-1",
            config=HOOK_CLIENT_CONFIG,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
    )
    guard.set(deadline_of(FakeContext(remaining_ms=1_000), reserve=2.0))
    # When the hook (or a thread it left behind) makes a call, Then it never leaves
    with pytest.raises(OutOfTime, match="no time left for GetItem"):
        client.get_item(TableName="t", Key={"pk": {"S": "x"}})
    # and with time to spare it would go out (here: refused by the unit network guard)
    guard.set(deadline_of(FakeContext(remaining_ms=60_000), reserve=2.0))
    with pytest.raises(Exception) as sent:
        client.get_item(TableName="t", Key={"pk": {"S": "x"}})
    assert not isinstance(sent.value, OutOfTime)


def test_with_no_time_left_at_all_no_check_runs_and_failed_is_reported() -> None:
    clients = FakeClients()
    answer = answer_codedeploy_hook(EVENT, FakeContext(remaining_ms=1_000), deps(clients))
    assert statuses(clients) == ["Failed"]
    assert "no time left" in answer["reason"]


def test_a_malformed_event_with_ids_is_reported_failed_and_one_without_ids_is_refused() -> None:
    clients = FakeClients()
    clients.codedeploy.get_error = client_error("InvalidDeploymentIdException", "GetDeployment")
    answer_codedeploy_hook(
        {**EVENT, "DeploymentId": "not-a-deployment"}, FakeContext(), deps(clients)
    )
    assert statuses(clients) == ["Failed"]
    with pytest.raises(MalformedHookEvent, match="LifecycleEventHookExecutionId is missing"):
        answer_codedeploy_hook({"DeploymentId": "d-1"}, FakeContext(), deps(clients))
    assert len(clients.codedeploy.reports) == 1


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("{not json", "is not valid JSON"),
        (json.dumps({"minHealthy": "two"}), "config.minHealthy: must be an integer"),
        (
            json.dumps({"checks": {"AfterAllowTestTraffic": ["smokeTest"]}}),
            "config.checks.AfterAllowTestTraffic",
        ),
        (json.dumps({"probs": []}), "unknown field(s) ['probs']"),
    ],
    ids=["not-json", "wrong-type", "unknown-check", "typo"],
)
def test_a_bad_configuration_is_reported_failed_with_what_is_wrong(
    stored: str, message: str
) -> None:
    clients = FakeClients()
    clients.dynamodb.items[("HOOKCONFIG#d-ABCDEFGHI", "CONFIG")] = {"config": {"S": stored}}
    answer = answer_codedeploy_hook(EVENT, FakeContext(), deps(clients))
    assert statuses(clients) == ["Failed"]
    assert message in answer["reason"]
    assert "dynamodb:HOOKCONFIG#d-ABCDEFGHI" in answer["reason"]


def test_a_missing_function_setting_is_reported_failed() -> None:
    clients = FakeClients()

    def broken() -> CodeDeployHookSettings:
        raise InvalidConfiguration("LIFECYCLE_EVENT", "is required and not set")

    answer = answer_codedeploy_hook(EVENT, FakeContext(), deps(clients, load_settings=broken))
    assert statuses(clients) == ["Failed"]
    assert "LIFECYCLE_EVENT" in answer["reason"]


def test_configuration_comes_from_the_deployment_then_ssm_then_defaults() -> None:
    clients = FakeClients()
    clients.ssm.parameters["/bluegreen/hooks/web-app/web-dg"] = json.dumps({"minHealthy": 3})
    # SSM asks for 3 healthy targets; green has 2 -> Failed
    answer_codedeploy_hook(
        EVENT, FakeContext(), deps(clients, settings=settings("BeforeAllowTraffic"))
    )
    # the per-deployment configuration (1 healthy is enough) wins over SSM -> Succeeded
    clients.dynamodb.items[("HOOKCONFIG#d-ABCDEFGHI", "CONFIG")] = {
        "config": {"S": json.dumps({"minHealthy": 1})}
    }
    answer_codedeploy_hook(
        {**EVENT, "LifecycleEventHookExecutionId": "exec-2"},
        FakeContext(),
        deps(clients, settings=settings("BeforeAllowTraffic")),
    )
    assert statuses(clients) == ["Failed", "Succeeded"]


def test_a_duplicate_invocation_neither_rechecks_nor_reports_again() -> None:
    clients = FakeClients()
    store = MemoryStore()
    transport = FakeTransport()
    first = answer_codedeploy_hook(EVENT, FakeContext(), deps(clients, store, transport=transport))
    again = answer_codedeploy_hook(EVENT, FakeContext(), deps(clients, store, transport=transport))
    assert statuses(clients) == ["Succeeded"]
    assert len(transport.requests) == 1  # the probe ran once
    assert again == {**first, "duplicate": True}


def test_when_the_idempotency_store_is_down_the_hook_still_answers() -> None:
    clients = FakeClients()
    store = MemoryStore()
    store.error = client_error("ProvisionedThroughputExceededException", "PutItem")
    answer_codedeploy_hook(EVENT, FakeContext(), deps(clients, store))
    assert statuses(clients) == ["Succeeded"]


def test_a_failure_to_report_is_raised_and_a_retry_reports() -> None:
    clients = FakeClients()
    store = MemoryStore()
    clients.codedeploy.report_error = client_error(
        "ThrottlingException", "PutLifecycleEventHookExecutionStatus"
    )
    with pytest.raises(HookReportFailed, match="could not report Succeeded"):
        answer_codedeploy_hook(EVENT, FakeContext(), deps(clients, store))
    # Lambda retries the failed invocation: the idempotency record was released, so it answers
    clients.codedeploy.report_error = None
    answer_codedeploy_hook(EVENT, FakeContext(), deps(clients, store))
    assert statuses(clients) == ["Succeeded"]


def test_an_already_answered_execution_is_not_an_error() -> None:
    clients = FakeClients()
    clients.codedeploy.report_error = client_error("LifecycleEventAlreadyCompletedException")
    answer = answer_codedeploy_hook(EVENT, FakeContext(), deps(clients))
    assert answer["status"] == "Succeeded"


def test_a_replacement_still_starting_is_polled_until_steady() -> None:
    clients = FakeClients()
    clients.ecs.replacement.update(runningCount=1, pendingCount=1, stabilityStatus="STABILIZING")
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        clients.ecs.replacement.update(
            runningCount=2, pendingCount=0, stabilityStatus="STEADY_STATE"
        )

    answer_codedeploy_hook(
        EVENT, FakeContext(), deps(clients, settings=settings("AfterInstall"), sleep=sleep)
    )
    assert statuses(clients) == ["Succeeded"]
    assert naps == [5]


def test_the_verdict_and_its_reason_are_recorded_for_the_deployment_record() -> None:
    clients = FakeClients()
    clients.elbv2.health[
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/2222"
    ] = ["unhealthy"]
    answer_codedeploy_hook(
        EVENT, FakeContext(), deps(clients, settings=settings("BeforeAllowTraffic"))
    )
    item = clients.dynamodb.items[("HOOKVERDICT#d-ABCDEFGHI", "BeforeAllowTraffic")]
    assert item["status"] == {"S": "Failed"}
    assert "web-green: 0/1 healthy, need 1" in item["reason"]["S"]


def test_a_verdict_that_cannot_be_recorded_does_not_stop_the_answer() -> None:
    clients = FakeClients()

    def unavailable(**_: Any) -> None:
        raise client_error("ProvisionedThroughputExceededException", "PutItem")

    clients.dynamodb.put_item = unavailable  # type: ignore[method-assign]
    answer_codedeploy_hook(EVENT, FakeContext(), deps(clients))
    assert statuses(clients) == ["Succeeded"]
