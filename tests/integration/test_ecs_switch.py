"""The switch state machine's ECS path: CodeDeploy and ECS-native, with the real hooks.

Each test runs the real ASL on the emulator; CodeDeploy's and ECS's blue/green
orchestration is the emulator's (background mode), invoking the stack's real hook
functions; HTTP probes reach the emulated ALB data plane.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen.store import Deployments
from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ecs_fleet import EcsFleet, build_ecs_fleet

from .ec2_helpers import AwsCalls, Call, Run, hooked_layer_clients, run_switch
from .sweep import fault_cases

pytestmark = pytest.mark.integration

CANARY = {"type": "canary", "percent": 10, "bakeSeconds": 300}
LINEAR = {"type": "linear", "stepPercent": 25, "stepBakeSeconds": 60}
ALL_AT_ONCE = {"type": "all-at-once"}
MODES = {"codedeploy": "CODE_DEPLOY", "ecs-native": "ECS"}


@pytest.fixture
def calls() -> Iterator[AwsCalls]:
    with hooked_layer_clients(AwsCalls()) as hooked:
        yield hooked


def _emulator(calls: AwsCalls) -> Emulator:
    aws = Emulator().start()
    calls.aws = aws
    for emulation in (aws.codedeploy_emulation, aws.ecs_emulation):
        emulation.background = True
    return aws


@pytest.fixture(params=list(MODES))
def ecs(
    request: pytest.FixtureRequest, calls: AwsCalls
) -> Iterator[tuple[Emulator, EcsFleet, str]]:
    aws = _emulator(calls)
    try:
        yield aws, build_ecs_fleet(aws, mode=MODES[request.param]), request.param
    finally:
        aws.stop()


def ecs_request(fleet: EcsFleet, mode: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "platform": "ECS",
        "mode": mode,
        "cluster": fleet.cluster,
        "service": fleet.service,
        "taskDefinition": fleet.release,
        "container": {"name": "app", "port": 80},
        "strategy": CANARY,
        "alarms": fleet.alarms,
        "requestedBy": "ci@example.com",
    }
    if mode == "codedeploy":
        request["codeDeploy"] = {
            "application": fleet.application,
            "deploymentGroup": fleet.deployment_group,
        }
    request.update(overrides)
    return request


def record_of(aws: Emulator, name: str) -> dict[str, Any]:
    return Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName")).get(name)


def lock_free(aws: Emulator, fleet: EcsFleet) -> bool:
    item = aws.client("dynamodb").get_item(
        TableName=aws.output("DeploymentsTableName"),
        Key={"pk": {"S": f"LOCK#{fleet.service_arn}"}, "sk": {"S": "LOCK"}},
    )
    return "owner" not in item.get("Item", {})  # a free lock remembers its last holder


def serving_one_colour(aws: Emulator, fleet: EcsFleet) -> str:
    """Production traffic goes to exactly one target group; its name."""
    serving = fleet.serving(aws)
    assert len(serving) == 1, f"production split across {serving}"
    return next(iter(serving))


@pytest.mark.parametrize(
    "strategy", [CANARY, LINEAR, ALL_AT_ONCE], ids=["canary", "linear", "all-at-once"]
)
def test_an_ecs_release_goes_live_through_the_platforms_blue_green(
    ecs: tuple[Emulator, EcsFleet, str], strategy: dict[str, Any]
) -> None:
    # Given a service on blue running web:1, and a release web:2
    aws, fleet, mode = ecs
    assert serving_one_colour(aws, fleet).endswith("blue")
    # When the switch runs in this mode with this strategy
    run = run_switch(aws, ecs_request(fleet, mode, strategy=strategy), name=f"ecs-{mode}")
    # Then it succeeded, production is on green, and the service runs the release
    assert run.status == "SUCCEEDED", run.cause
    assert serving_one_colour(aws, fleet).endswith("green")
    service = aws.client("ecs").describe_services(cluster=fleet.cluster, services=[fleet.service])[
        "services"
    ][0]
    assert service["taskDefinition"] == fleet.release
    # and the record says what the platform did, with the outcome, and the lock is gone
    record = record_of(aws, f"ecs-{mode}")
    assert record["status"] == "SUCCEEDED"
    assert record["mode"] == mode
    assert [s for s in record["steps"] if s["phase"] == "platform"], (
        "no lifecycle progress recorded"
    )
    assert lock_free(aws, fleet)


def test_codedeploy_mode_uses_a_predefined_config_where_one_fits_and_creates_the_others_once(
    calls: AwsCalls,
) -> None:
    aws = _emulator(calls)
    try:
        fleet = build_ecs_fleet(aws, mode="CODE_DEPLOY")
        codedeploy = aws.client("codedeploy")
        # Given a canary of 10% for 5 minutes: CodeDeploy has that one
        run = run_switch(
            aws,
            ecs_request(fleet, "codedeploy", strategy={**CANARY, "bakeSeconds": 300}),
            name="predefined",
        )
        assert run.status == "SUCCEEDED", run.cause
        first = record_of(aws, "predefined")["platformDeployment"]["id"]
        assert codedeploy.get_deployment(deploymentId=first)["deploymentInfo"][
            "deploymentConfigName"
        ] == ("CodeDeployDefault.ECSCanary10Percent5Minutes")
        # When a release asks for 20% for 2 minutes, twice
        custom = {"type": "canary", "percent": 20, "bakeSeconds": 120}
        for name in ("custom-1", "custom-2"):
            request = ecs_request(
                fleet, "codedeploy", strategy=custom, taskDefinition=fleet.task_definitions[0]
            )
            if name == "custom-2":
                request["taskDefinition"] = fleet.release
            assert run_switch(aws, request, name=name).status == "SUCCEEDED"
        # Then one custom config exists, with that routing, used by both
        config = codedeploy.get_deployment_config(
            deploymentConfigName="bluegreen.ECSCanary20Percent2Minutes"
        )
        routing = config["deploymentConfigInfo"]["trafficRoutingConfig"]["timeBasedCanary"]
        assert routing == {"canaryPercentage": 20, "canaryInterval": 2}
        assert creates(calls, "CreateDeploymentConfig") == 1
    finally:
        aws.stop()


def creates(calls: AwsCalls, operation: str) -> int:
    return sum(1 for call in calls.calls if call.operation == operation)


def test_the_switch_writes_the_hook_configuration_with_its_alarms(calls: AwsCalls) -> None:
    aws = _emulator(calls)
    try:
        fleet = build_ecs_fleet(aws, mode="CODE_DEPLOY")
        run = run_switch(
            aws, ecs_request(fleet, "codedeploy", hooks={"minHealthy": 2}), name="configured"
        )
        assert run.status == "SUCCEEDED", run.cause
        deployment = record_of(aws, "configured")["platformDeployment"]["id"]
        item = aws.client("dynamodb").get_item(
            TableName=aws.output("DeploymentsTableName"),
            Key={"pk": {"S": f"HOOKCONFIG#{deployment}"}, "sk": {"S": "CONFIG"}},
        )["Item"]
        assert json.loads(item["config"]["S"]) == {"minHealthy": 2, "alarms": sorted(fleet.alarms)}
    finally:
        aws.stop()


def test_a_failing_hook_ends_rolled_back_with_a_record_naming_the_hook(
    ecs: tuple[Emulator, EcsFleet, str],
) -> None:
    # Given the release answers 503 to the hooks' HTTP probes through the test listener
    aws, fleet, mode = ecs
    aws.alb_http.respond(fleet.green_arn, status=503, body="upstream down")
    # When the switch runs
    run = run_switch(aws, ecs_request(fleet, mode), name=f"broken-{mode}")
    # Then the platform rolled back: production stayed on blue, and the execution says so
    assert run.status == "FAILED"
    assert run.error == "SwitchRolledBack.PlatformDeploymentFailed"
    assert serving_one_colour(aws, fleet).endswith("blue")
    record = record_of(aws, f"broken-{mode}")
    assert record["status"] == "ROLLED_BACK"
    # and the record names the hook and keeps the platform's reason
    events = [s["events"] for s in record["steps"] if s["phase"] == "platform"]
    if mode == "codedeploy":
        assert events[-1].get("AfterAllowTestTraffic") == "Failed", events
    else:
        assert any(e.get("stage") for e in events), events
    assert record["outcome"]["observed"]["platformStatus"] in {
        "Failed",
        "Stopped",
        "ROLLBACK_SUCCESSFUL",
        "STOPPED",
    }
    # and the failing hook's own reason: what its probe got
    assert "503" in record["outcome"]["cause"], record["outcome"]["cause"]
    assert lock_free(aws, fleet)


def test_a_failure_of_ours_aborts_the_platform_deployment_with_a_rollback(
    ecs: tuple[Emulator, EcsFleet, str], calls: AwsCalls
) -> None:
    # Given following the platform's deployment fails (e.g. a permission removed mid-switch)
    aws, fleet, mode = ecs
    operation = "GetDeployment" if mode == "codedeploy" else "DescribeServiceDeployments"
    service = "codedeploy" if mode == "codedeploy" else "ecs"
    for nth in range(1, 12):  # more than the Lambda and state machine retries together
        calls.fail(Call("EcsObserveFunction", service, operation), nth=nth)
    # When the switch runs
    run = run_switch(aws, ecs_request(fleet, mode), name=f"abort-{mode}")
    # Then it stopped the platform's deployment with a rollback, and recorded why
    assert run.status == "FAILED", run.output
    assert run.error is not None and run.error.startswith("SwitchRolledBack.")
    stop = "StopDeployment" if mode == "codedeploy" else "StopServiceDeployment"
    assert creates(calls, stop) == 1
    record = record_of(aws, f"abort-{mode}")
    assert record["status"] == "ROLLED_BACK"
    assert record["outcome"]["failedAt"] == "EcsObserve"
    assert lock_free(aws, fleet)
    settle(aws)
    assert serving_one_colour(aws, fleet).endswith("blue")


def settle(aws: Emulator) -> None:
    """Let the emulated platform finish what a stop started."""
    for emulation in (aws.codedeploy_emulation, aws.ecs_emulation):
        emulation.background = False
        emulation.run_until_done()


def test_a_second_switch_on_a_locked_service_fails_fast_naming_the_holder(calls: AwsCalls) -> None:
    aws = _emulator(calls)
    try:
        fleet = build_ecs_fleet(aws, mode="CODE_DEPLOY")
        # Given another switch holds the service
        holder = Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName"))
        holder.begin(
            "release-41",
            "arn:aws:states:::execution:x:release-41",
            [fleet.service_arn],
            [],
            {"platform": "ECS"},
            {},
            lease_until=int(time.time()) + 3600,
        )
        # When a switch starts on it
        run = run_switch(aws, ecs_request(fleet, "codedeploy"), name="second")
        # Then it fails at once naming the holder, and no deployment was created
        assert run.status == "FAILED"
        assert run.error == "LockHeld"
        assert "release-41" in (run.cause or "")
        assert not aws.client("codedeploy").list_deployments()["deployments"]
        assert serving_one_colour(aws, fleet).endswith("blue")
    finally:
        aws.stop()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("taskDefinition", "web:99", "taskDefinition: 'web:99' does not exist"),
        (
            "container",
            {"name": "sidecar", "port": 80},
            "container.name: task definition has no container 'sidecar'",
        ),
        (
            "codeDeploy",
            {"application": "web-app", "deploymentGroup": "nope"},
            "codeDeploy: no deployment group web-app/nope",
        ),
        ("alarms", ["no-such-alarm"], "alarms[0]: no CloudWatch alarm named 'no-such-alarm'"),
    ],
)
def test_bad_ecs_input_is_refused_before_anything_changes(
    calls: AwsCalls, field: str, value: Any, says: str
) -> None:
    aws = _emulator(calls)
    try:
        fleet = build_ecs_fleet(aws, mode="CODE_DEPLOY")
        request = ecs_request(fleet, "codedeploy")
        request[field] = value
        run: Run = run_switch(aws, request, name="bad")
        assert run.status == "FAILED"
        assert run.error == "InvalidInput"
        assert says in (run.cause or ""), run.cause
        assert not aws.client("codedeploy").list_deployments()["deployments"]
        assert lock_free(aws, fleet)
    finally:
        aws.stop()


# Every AWS call the switch's own functions make on each mode's path (recorded from a
# successful run of each mode; the hooks' faults are covered by the hook tests).
_READ = [
    ("PlanFunction", "ecs", "DescribeServices"),
    ("PlanFunction", "ecs", "DescribeTaskDefinition"),
]
_BEGIN = [
    ("PlanFunction", "cloudwatch", "DescribeAlarms"),
    ("EcsBeginFunction", "dynamodb", "TransactWriteItems"),
    ("EcsBeginFunction", "events", "PutEvents"),
]
_FINISH = [
    ("EcsFinishFunction", "dynamodb", "GetItem"),
    ("EcsFinishFunction", "dynamodb", "UpdateItem"),
    ("EcsFinishFunction", "dynamodb", "DeleteItem"),
    ("EcsFinishFunction", "events", "PutEvents"),
]
PATH_CALLS = {
    "codedeploy": [
        Call(*c)
        for c in [
            *_READ,
            ("PlanFunction", "codedeploy", "GetDeploymentGroup"),
            *_BEGIN,
            ("EcsStartFunction", "codedeploy", "CreateDeployment"),
            ("EcsStartFunction", "dynamodb", "PutItem"),
            ("EcsStartFunction", "dynamodb", "UpdateItem"),
            ("EcsStartFunction", "dynamodb", "GetItem"),
            ("EcsObserveFunction", "codedeploy", "GetDeployment"),
            ("EcsObserveFunction", "codedeploy", "ListDeploymentTargets"),
            ("EcsObserveFunction", "codedeploy", "BatchGetDeploymentTargets"),
            ("EcsObserveFunction", "dynamodb", "UpdateItem"),
            ("EcsObserveFunction", "events", "PutEvents"),
            *_FINISH,
        ]
    ],
    "ecs-native": [
        Call(*c)
        for c in [
            *_READ,
            *_BEGIN,
            ("EcsStartFunction", "ecs", "UpdateService"),
            ("EcsStartFunction", "ecs", "ListServiceDeployments"),
            ("EcsStartFunction", "dynamodb", "UpdateItem"),
            ("EcsStartFunction", "dynamodb", "GetItem"),
            ("EcsObserveFunction", "ecs", "DescribeServiceDeployments"),
            ("EcsObserveFunction", "dynamodb", "UpdateItem"),
            ("EcsObserveFunction", "events", "PutEvents"),
            *_FINISH,
        ]
    ],
}


@pytest.mark.parametrize(
    ("mode", "call"),
    fault_cases(
        [(mode, call) for mode, path in PATH_CALLS.items() for call in path],
        lambda case: case[1].operation,
        lambda case: f"{case[0]}-{case[1].function}-{case[1].operation}",
    ),
)
def test_a_fault_at_any_call_leaves_the_service_on_exactly_one_task_set(
    calls: AwsCalls, mode: str, call: Call
) -> None:
    aws = _emulator(calls)
    try:
        fleet = build_ecs_fleet(aws, mode=MODES[mode])
        # Given one AWS call of the path fails, every time it is made
        for nth in range(1, 12):
            calls.fail(call, nth=nth)
        # When the switch runs
        run = run_switch(aws, ecs_request(fleet, mode), name="fault")
        settle(aws)
        # Then production is served by exactly one colour, consistent with the outcome
        colour = serving_one_colour(aws, fleet)
        assert run.status in {"SUCCEEDED", "FAILED"}, run.status
        if run.status == "SUCCEEDED":
            assert colour.endswith("green")
        # and no lock is left behind
        assert lock_free(aws, fleet)
    finally:
        aws.stop()
