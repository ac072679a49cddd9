"""CodeDeploy ECS blue/green deployments, emulated, driving the five real hook functions.

The emulator plays CodeDeploy (invokes each AppSpec hook, waits for
PutLifecycleEventHookExecutionStatus, shifts traffic, rolls back); the hooks are the
stack's real functions, reading their configuration from the DeploymentsTable and
probing the test listener through the emulated ALB.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bluegreen_emulator import Clock, Emulator
from bluegreen_emulator.fixtures.ecs_fleet import EcsFleet, build_ecs_fleet
from bluegreen_emulator.services.codedeploy_ecs import (
    HOOK_EVENTS,
    Flow,
    FlowDriver,
    appspec_content,
)
from tests.conftest import EVENTS, load_event

pytestmark = pytest.mark.integration

GREEN_VERSION_PROBE = {
    "probes": [{"path": "/", "expectStatus": 200, "expectBody": "task-definition/web:2"}]
}


def hooks(aws: Emulator) -> dict[str, str]:
    return {event: aws.function(f"{event}HookFunction").name for event in HOOK_EVENTS}


def silent(aws: Emulator) -> str:
    """A function that answers CodeDeploy nothing (the ECS-native hook only returns)."""
    return aws.function("EcsNativeHookFunction").name


def deploy(
    aws: Emulator,
    fleet: EcsFleet,
    config: dict[str, Any] | None = None,
    hook_functions: dict[str, str] | None = None,
    **kwargs: Any,
) -> str:
    """Create the deployment and write its hook configuration, as the switch will."""
    content = appspec_content(fleet.release, hook_functions or hooks(aws))
    deployment_id: str = aws.client("codedeploy").create_deployment(
        applicationName=fleet.application,
        deploymentGroupName=fleet.deployment_group,
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
        **kwargs,
    )["deploymentId"]
    if config is not None:
        aws.client("dynamodb").put_item(
            TableName=aws.output("DeploymentsTableName"),
            Item={
                "pk": {"S": f"HOOKCONFIG#{deployment_id}"},
                "sk": {"S": "CONFIG"},
                "config": {"S": json.dumps(config)},
            },
        )
    return deployment_id


def reports(aws: Emulator, deployment_id: str) -> list[tuple[str, str]]:
    return [
        (r.lifecycle_event, r.status)
        for r in aws.codedeploy_emulation.reports
        if r.deployment_id == deployment_id
    ]


def task_sets(aws: Emulator, fleet: EcsFleet) -> list[tuple[str, str]]:
    sets = aws.client("ecs").describe_task_sets(cluster=fleet.cluster, service=fleet.service)[
        "taskSets"
    ]
    return sorted((ts["taskDefinition"].rsplit("/", 1)[-1], ts["status"]) for ts in sets)


def test_a_canary_deployment_passes_every_hook_and_ends_on_green(aws: Emulator) -> None:
    # Given an ECS service on blue (web:1) and a canary release of web:2 whose hooks probe
    # the test listener for the new version
    fleet = build_ecs_fleet(aws)
    deployment_id = deploy(
        aws,
        fleet,
        GREEN_VERSION_PROBE,
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
    )

    # When CodeDeploy runs it to the end
    aws.codedeploy_emulation.run_until_done(deployment_id)

    # Then each hook answered Succeeded exactly once, in lifecycle order
    assert reports(aws, deployment_id) == [(event, "Succeeded") for event in HOOK_EVENTS]
    info = aws.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    # and production moved 10% -> 100% to green, the test listener probes reached green
    steps = [step for key, step in aws.codedeploy_emulation.steps if key == deployment_id]
    assert [s for s in steps if s.startswith("AllowTraffic")] == [
        "AllowTraffic: green 10%",
        "AllowTraffic: green 100%",
    ]
    assert fleet.serving(aws) == {"web-green": 100}
    assert {s.target_group_arn for s in aws.alb_http.served} == {fleet.green_arn}
    # and only the replacement task set is left, as the primary
    assert task_sets(aws, fleet) == [("web:2", "PRIMARY")]


def test_a_hook_that_fails_rolls_the_deployment_back_to_the_original_task_set(
    aws: Emulator,
) -> None:
    # Given green answering 503 on the test listener
    fleet = build_ecs_fleet(aws)
    aws.alb_http.respond(fleet.green_arn, status=503, body="upstream down")
    deployment_id = deploy(aws, fleet, GREEN_VERSION_PROBE)

    # When the deployment runs
    aws.codedeploy_emulation.run_until_done(deployment_id)

    # Then AfterAllowTestTraffic reported Failed (once) and no later hook ran
    assert reports(aws, deployment_id) == [
        ("BeforeInstall", "Succeeded"),
        ("AfterInstall", "Succeeded"),
        ("AfterAllowTestTraffic", "Failed"),
    ]
    info = aws.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert "AfterAllowTestTraffic" in info["errorInformation"]["message"]
    assert "rollbackDeploymentId" in info["rollbackInfo"]
    # and every listener is back on blue, with only the original task set running
    assert fleet.serving(aws) == {"web-blue": 100}
    assert fleet.serving(aws, fleet.test_listener_arn) == {"web-blue": 100}
    assert task_sets(aws, fleet) == [("web:1", "PRIMARY")]
    # and the hook's reason is in its log, for the person on call
    target = aws.client("codedeploy").get_deployment_target(
        deploymentId=deployment_id, targetId=f"{fleet.cluster}:{fleet.service}"
    )
    events = {
        e["lifecycleEventName"]: e["status"]
        for e in target["deploymentTarget"]["ecsTarget"]["lifecycleEvents"]
    }
    assert events["AfterAllowTestTraffic"] == "Failed"
    assert events["AllowTraffic"] == "Skipped"
    # and the hook left its reason where the deployment's record can name it
    verdict = aws.client("dynamodb").get_item(
        TableName=aws.output("DeploymentsTableName"),
        Key={"pk": {"S": f"HOOKVERDICT#{deployment_id}"}, "sk": {"S": "AfterAllowTestTraffic"}},
    )["Item"]
    assert verdict["status"]["S"] == "Failed"
    assert "status 503, expected 200" in verdict["reason"]["S"]


def test_stop_deployment_with_auto_rollback_puts_traffic_back_and_ends_stopped(
    aws: Emulator,
) -> None:
    # Given a deployment whose test traffic already reaches green
    fleet = build_ecs_fleet(aws)
    deployment_id = deploy(aws, fleet)
    emulation = aws.codedeploy_emulation
    while "AllowTestTraffic: test listener -> green" not in [s for _, s in emulation.steps]:
        emulation.advance(deployment_id)
    assert fleet.serving(aws, fleet.test_listener_arn) == {"web-green": 100}

    # When an operator stops it with automatic rollback
    aws.client("codedeploy").stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)

    # Then it is Stopped, traffic is on blue, the replacement is gone
    info = aws.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "MANUAL_STOP")
    assert fleet.serving(aws, fleet.test_listener_arn) == {"web-blue": 100}
    assert task_sets(aws, fleet) == [("web:1", "PRIMARY")]


def test_a_hook_that_never_answers_fails_the_event_after_the_timeout(aws: Emulator) -> None:
    # Given an AppSpec whose BeforeInstall hook is a function that never reports
    fleet = build_ecs_fleet(aws)
    deployment_id = deploy(aws, fleet, hook_functions={"BeforeInstall": silent(aws)})

    # When CodeDeploy waits for it
    aws.codedeploy_emulation.run_until_done(deployment_id)

    # Then after an (emulated) hour the deployment failed, before any change
    info = aws.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Failed"
    assert "did not report a status within 3600s" in info["errorInformation"]["message"]
    assert aws.codedeploy_emulation.emulated_seconds >= 3600
    assert task_sets(aws, fleet) == [("web:1", "PRIMARY")]
    # and the event's times say so: it ended an emulated hour after it began
    before_install = lifecycle(aws, deployment_id)["BeforeInstall"]
    assert before_install["endTime"] - before_install["startTime"] == timedelta(hours=1)


def lifecycle(aws: Emulator, deployment_id: str) -> dict[str, dict[str, Any]]:
    target = aws.client("codedeploy").get_deployment_target(
        deploymentId=deployment_id, targetId="any"
    )["deploymentTarget"]["ecsTarget"]
    return {e["lifecycleEventName"]: e for e in target["lifecycleEvents"]}


def test_a_deployments_times_are_on_the_emulated_clock(aws: Emulator) -> None:
    # Given an account whose time moved a day past the real clock, and a canary release
    # (10% for five minutes) from the example's deployment group (it waits five minutes
    # before it removes the original task set)
    fleet = build_ecs_fleet(aws)
    aws.clock.advance(86400)
    began = datetime.fromtimestamp(aws.clock.epoch(), UTC)
    deployment_id = deploy(
        aws,
        fleet,
        GREEN_VERSION_PROBE,
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
    )

    # When CodeDeploy runs it to the end
    aws.codedeploy_emulation.run_until_done(deployment_id)

    # Then it began at the account's emulated date, AllowTraffic took the canary's five
    # emulated minutes, and it ended once the original's termination wait had passed
    info = aws.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    events = lifecycle(aws, deployment_id)
    assert abs(events["BeforeInstall"]["startTime"] - began) < timedelta(milliseconds=1)
    allow = events["AllowTraffic"]
    assert allow["endTime"] - allow["startTime"] == timedelta(minutes=5)
    termination = info["completeTime"] - events["AfterAllowTraffic"]["endTime"]
    assert termination == timedelta(minutes=5)


def test_a_duplicate_hook_invocation_does_not_report_twice(aws: Emulator) -> None:
    # Given a deployment whose BeforeInstall hook has answered
    fleet = build_ecs_fleet(aws)
    deployment_id = deploy(aws, fleet)
    emulation = aws.codedeploy_emulation
    emulation.advance(deployment_id)
    execution_id = emulation.deployments[deployment_id].events["BeforeInstall"].execution_id

    # When Lambda delivers the same invocation again
    again = aws.runtime.invoke(
        aws.function("BeforeInstallHookFunction").name,
        {"DeploymentId": deployment_id, "LifecycleEventHookExecutionId": execution_id},
    )

    # Then it answers from its idempotency record: no second report, no error
    assert again.error_type is None
    assert again.json()["duplicate"] is True
    assert reports(aws, deployment_id) == [("BeforeInstall", "Succeeded")]


def test_the_events_files_drive_a_whole_deployment_through_the_real_hooks(aws: Emulator) -> None:
    # Given a deployment whose AppSpec hooks are silent, so CodeDeploy waits at each event
    fleet = build_ecs_fleet(aws)
    files = {
        path.stem.removeprefix("codedeploy-"): path.stem
        for path in EVENTS.glob("codedeploy-*.json")
    }
    assert sorted(files) == sorted(HOOK_EVENTS)
    deployment_id = deploy(aws, fleet, hook_functions=dict.fromkeys(HOOK_EVENTS, silent(aws)))
    emulation = aws.codedeploy_emulation
    dep = emulation.deployments[deployment_id]

    # When, at each event, the real hook function is invoked with that event's file (what
    # `sam local invoke -e` takes), its ids pointed at the waiting execution
    for event_name in HOOK_EVENTS:
        waiting = dep.events[event_name]
        while waiting.execution_id is None:
            emulation.advance(deployment_id)
        event = {
            **load_event(files[event_name]),
            "DeploymentId": deployment_id,
            "LifecycleEventHookExecutionId": waiting.execution_id,
        }
        result = aws.runtime.invoke(aws.function(f"{event_name}HookFunction").name, event)
        assert result.error_type is None, result.payload
    emulation.run_until_done(deployment_id)

    # Then each file's invocation answered its event, and the deployment succeeded
    assert reports(aws, deployment_id) == [(event, "Succeeded") for event in HOOK_EVENTS]
    info = aws.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"


def test_a_custom_linear_config_shifts_production_in_its_steps(aws: Emulator) -> None:
    # Given a custom ECS deployment config: 25% more traffic every minute
    fleet = build_ecs_fleet(aws)
    aws.client("codedeploy").create_deployment_config(
        deploymentConfigName="web-linear-25",
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": 25, "linearInterval": 1},
        },
    )
    deployment_id = deploy(aws, fleet, deploymentConfigName="web-linear-25")

    # When CodeDeploy runs the deployment
    aws.codedeploy_emulation.run_until_done(deployment_id)

    # Then production moved in four steps, a minute apart (emulated), to green
    steps = [s for key, s in aws.codedeploy_emulation.steps if key == deployment_id]
    shifts = [s.removeprefix("AllowTraffic: green ") for s in steps if s.startswith("AllowTraffic")]
    assert shifts == ["25%", "50%", "75%", "100%"]
    assert aws.codedeploy_emulation.emulated_seconds >= 3 * 60 + 5 * 60  # + termination wait
    assert fleet.serving(aws) == {"web-green": 100}


def test_in_background_mode_a_deployment_runs_on_its_own(aws: Emulator) -> None:
    # Given the CodeDeploy emulation running deployments by itself (clock scale 0)
    fleet = build_ecs_fleet(aws)
    aws.codedeploy_emulation.background = True
    codedeploy = aws.client("codedeploy")

    # When a deployment is created and only watched, as a state machine would
    deployment_id = deploy(aws, fleet)
    deadline = time.monotonic() + 20
    status = "Created"
    while status not in {"Succeeded", "Failed", "Stopped"} and time.monotonic() < deadline:
        status = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]
        time.sleep(0.01)

    # Then it succeeds with every hook answered once
    assert status == "Succeeded"
    assert reports(aws, deployment_id) == [(event, "Succeeded") for event in HOOK_EVENTS]


def test_an_alarm_firing_during_the_canary_stops_the_shift_and_rolls_back(aws: Emulator) -> None:
    # Given a canary deployment on a deployment group that watches the service's alarm
    fleet = build_ecs_fleet(aws)
    deployment_id = deploy(
        aws, fleet, deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes"
    )
    emulation = aws.codedeploy_emulation
    while "AllowTraffic: green 10%" not in [s for _, s in emulation.steps]:
        emulation.advance(deployment_id)

    # When the alarm fires while 10% of production is on green
    aws.client("cloudwatch").set_alarm_state(
        AlarmName=fleet.alarms[0], StateValue="ALARM", StateReason="5xx on green"
    )
    emulation.run_until_done(deployment_id)

    # Then green never got more than 10%, and the deployment rolled back to blue
    info = aws.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Failed", "ALARM_ACTIVE")
    assert "AllowTraffic: green 100%" not in [s for _, s in emulation.steps]
    assert fleet.serving(aws) == {"web-blue": 100}
    assert reports(aws, deployment_id) == [(e, "Succeeded") for e in HOOK_EVENTS[:4]]


def test_a_stop_requested_while_a_step_runs_is_delivered_right_after_it() -> None:
    # Given a flow whose second step asks to stop it, as a function calling StopDeployment
    # while CodeDeploy invokes it would (no lock is held while a step runs)
    driver = FlowDriver(Clock())
    seen: list[object] = []

    def flow() -> Flow:
        try:
            yield "one"
            seen.append(driver.throw("d-1", RuntimeError("stop")))
            yield "two"
            yield "three"
        except RuntimeError:
            seen.append("stopped")
            yield "rolled back"

    driver.start_flow("d-1", flow())

    # When the flow runs to its end
    driver.run_until_done("d-1")

    # Then the request was accepted as pending, and delivered before any further step
    assert seen == [False, "stopped"]
    assert [step for _, step in driver.steps] == ["one", "rolled back"]
