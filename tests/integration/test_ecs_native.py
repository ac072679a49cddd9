"""ECS-native blue/green service deployments, emulated, driving the real ECS-native hook.

The emulator plays ECS (stages, IN_PROGRESS re-invocation after callBackDelay, rollback
re-running the traffic-shift hooks); the hook is the stack's real function.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ecs_fleet import EcsFleet, build_ecs_fleet
from tests.conftest import EVENTS, load_event

pytestmark = pytest.mark.integration

STAGES = [
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
]
CONFIG = {
    "probes": [{"path": "/", "expectStatus": 200, "expectBody": "task-definition/web:2"}],
    "verification": {"windowSeconds": 60},
    "waits": {"callBackDelaySeconds": 30},
}


def release(aws: Emulator, fleet: EcsFleet, strategy: str = "BLUE_GREEN", **extra: Any) -> str:
    """UpdateService with this stack's hook, as the switch will; returns the deployment ARN."""
    ecs = aws.client("ecs")
    ecs.update_service(
        cluster=fleet.cluster,
        service=fleet.service,
        taskDefinition=fleet.release,
        deploymentConfiguration={
            "strategy": strategy,
            "bakeTimeInMinutes": 5,
            "lifecycleHooks": [
                {
                    "hookTargetArn": aws.output("EcsNativeHookFunctionArn"),
                    "roleArn": aws.output("EcsHookInvokeRoleArn"),
                    "lifecycleStages": STAGES,
                    "hookDetails": {"hookConfig": CONFIG},
                }
            ],
            **extra,
        },
    )
    listed = ecs.list_service_deployments(cluster=fleet.cluster, service=fleet.service)
    return str(listed["serviceDeployments"][0]["serviceDeploymentArn"])


def deployment(aws: Emulator, arn: str) -> dict[str, Any]:
    found = aws.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])
    return dict(found["serviceDeployments"][0])


def calls(aws: Emulator) -> list[tuple[str, str | None, bool]]:
    return [(c.stage, c.status, c.rollback) for c in aws.ecs_emulation.hook_calls]


def test_a_linear_release_waits_with_in_progress_and_ends_on_green(aws: Emulator) -> None:
    # Given an ECS-native service on blue and a linear release whose verification window
    # (60 s) is longer than one callBackDelay (30 s), in an account whose time moved a day
    # past the real clock
    fleet = build_ecs_fleet(aws, mode="ECS")
    aws.clock.advance(86400)
    began = datetime.fromtimestamp(aws.clock.epoch(), UTC)
    arn = release(
        aws, fleet, "LINEAR", linearConfiguration={"stepPercent": 50, "stepBakeTimeInMinutes": 1}
    )

    # When ECS runs the deployment
    aws.ecs_emulation.run_until_done(arn)

    # Then the verification hook answered IN_PROGRESS twice (ECS called it again after
    # 30 emulated seconds each time) before SUCCEEDED, and every other stage passed at once
    post = [status for stage, status, _ in calls(aws) if stage == "POST_PRODUCTION_TRAFFIC_SHIFT"]
    assert post == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    assert all(
        status == "SUCCEEDED"
        for stage, status, _ in calls(aws)
        if stage != "POST_PRODUCTION_TRAFFIC_SHIFT"
    )
    assert [stage for stage, _, _ in calls(aws)].count("PRODUCTION_TRAFFIC_SHIFT") == 2  # 50%, 100%
    # and the service runs web:2 with all production traffic on green
    assert deployment(aws, arn)["status"] == "SUCCESSFUL"
    assert fleet.serving(aws) == {"web-green": 100}
    service = aws.client("ecs").describe_services(cluster=fleet.cluster, services=[fleet.service])[
        "services"
    ][0]
    assert service["taskDefinition"] == fleet.release
    assert aws.ecs_emulation.emulated_seconds >= 60
    # and its times are the emulated clock's: it began at the account's date and took
    # the emulated time of its bakes and callBackDelays
    described = deployment(aws, arn)
    assert abs(described["startedAt"] - began) < timedelta(milliseconds=1)
    took = described["finishedAt"] - described["startedAt"]
    assert abs(took - timedelta(seconds=aws.ecs_emulation.emulated_seconds)) < timedelta(
        milliseconds=2
    )


def test_a_failing_check_rolls_back_and_the_traffic_hooks_rerun_idempotently(aws: Emulator) -> None:
    # Given green answering 503 through the test listener
    fleet = build_ecs_fleet(aws, mode="ECS")
    aws.alb_http.respond(fleet.green_arn, status=503, body="upstream down")
    arn = release(aws, fleet)

    # When ECS runs the deployment
    aws.ecs_emulation.run_until_done(arn)

    # Then POST_TEST_TRAFFIC_SHIFT failed, and ECS rolled back, calling the two
    # traffic-shift hooks again, which succeeded without probing the abandoned green
    assert calls(aws)[-3:] == [
        ("POST_TEST_TRAFFIC_SHIFT", "FAILED", False),
        ("TEST_TRAFFIC_SHIFT", "SUCCEEDED", True),
        ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED", True),
    ]
    assert len(aws.alb_http.served) == 1  # the one failing probe; none during the rollback
    described = deployment(aws, arn)
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    assert "status 503" in described["rollback"]["reason"]
    assert fleet.serving(aws) == {"web-blue": 100}
    assert fleet.serving(aws, fleet.test_listener_arn) == {"web-blue": 100}
    # and the failed stage's verdict is recorded apart from the rollback's answers
    table, dynamodb = aws.output("DeploymentsTableName"), aws.client("dynamodb")
    verdicts = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"HOOKVERDICT#{arn}"}},
    )["Items"]
    by_stage = {v["sk"]["S"]: v["status"]["S"] for v in verdicts}
    assert by_stage["POST_TEST_TRAFFIC_SHIFT"] == "FAILED"
    assert by_stage["PRODUCTION_TRAFFIC_SHIFT#ROLLBACK"] == "SUCCEEDED"

    # and a repeated rollback invocation gets the same answer, without running again
    rollback_call = aws.ecs_emulation.hook_calls[-1]
    repeat = aws.runtime.invoke(
        aws.output("EcsNativeHookFunctionArn"),
        {
            "executionId": rollback_call.execution_id,
            "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
            "resourceArn": arn,
            "executionDetails": {
                "serviceArn": fleet.service_arn,
                "targetServiceRevisionArn": described["targetServiceRevision"]["arn"],
            },
            "hookDetails": {"hookConfig": CONFIG},
        },
    )
    assert repeat.json()["hookStatus"] == "SUCCEEDED"
    assert repeat.json()["duplicate"] is True


def test_stop_service_deployment_rolls_back_to_blue(aws: Emulator) -> None:
    # Given a release whose green tasks run and take test traffic
    fleet = build_ecs_fleet(aws, mode="ECS")
    arn = release(aws, fleet)
    emulation = aws.ecs_emulation
    while deployment(aws, arn)["lifecycleStage"] != "POST_TEST_TRAFFIC_SHIFT":
        emulation.advance(arn)

    # When an operator stops it with ROLLBACK
    aws.client("ecs").stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    emulation.run_until_done(arn)

    # Then it rolled back and blue serves everything
    assert deployment(aws, arn)["status"] == "ROLLBACK_SUCCESSFUL"
    assert fleet.serving(aws, fleet.test_listener_arn) == {"web-blue": 100}
    assert fleet.serving(aws) == {"web-blue": 100}


def test_every_ecs_native_events_file_gets_a_hook_status(aws: Emulator) -> None:
    # Given a live ECS-native deployment with its green tasks running
    fleet = build_ecs_fleet(aws, mode="ECS")
    arn = release(aws, fleet)
    while deployment(aws, arn)["lifecycleStage"] != "POST_SCALE_UP":
        aws.ecs_emulation.advance(arn)
    revision = deployment(aws, arn)["targetServiceRevision"]["arn"]
    paths = sorted(EVENTS.glob("ecs-native-*.json"))
    assert len(paths) == 5

    # When the ECS-native hook is invoked with each events file (`sam local invoke -e`),
    # pointed at that deployment
    answers = {}
    for path in paths:
        event = load_event(path.stem)
        event["resourceArn"] = arn
        event["executionDetails"].update(
            serviceArn=fleet.service_arn, targetServiceRevisionArn=revision
        )
        result = aws.runtime.invoke(aws.output("EcsNativeHookFunctionArn"), event)
        assert result.error_type is None, result.payload
        answers[path.stem] = result.json()["hookStatus"]

    # Then each gets a status ECS understands; the production file waits for its window
    assert answers == {
        "ecs-native-production-traffic": "IN_PROGRESS",
        "ecs-native-production-traffic-shift": "SUCCEEDED",
        "ecs-native-reconcile": "SUCCEEDED",
        "ecs-native-scale-up": "SUCCEEDED",
        "ecs-native-test-traffic": "SUCCEEDED",
    }


def test_a_hook_that_errors_instead_of_answering_rolls_the_deployment_back(aws: Emulator) -> None:
    # Given a lifecycle hook that raises for this payload (a CodeDeploy hook, by mistake)
    fleet = build_ecs_fleet(aws, mode="ECS")
    wrong = aws.function("BeforeInstallHookFunction").arn
    aws.client("ecs").update_service(
        cluster=fleet.cluster,
        service=fleet.service,
        taskDefinition=fleet.release,
        deploymentConfiguration={
            "strategy": "BLUE_GREEN",
            "lifecycleHooks": [
                {
                    "hookTargetArn": wrong,
                    "roleArn": "arn:aws:iam::123456789012:role/r",
                    "lifecycleStages": ["POST_SCALE_UP"],
                }
            ],
        },
    )
    arn = aws.client("ecs").list_service_deployments(cluster=fleet.cluster, service=fleet.service)[
        "serviceDeployments"
    ][0]["serviceDeploymentArn"]

    # When ECS runs the deployment
    aws.ecs_emulation.run_until_done(arn)

    # Then, as AWS does for an error or a missing hookStatus, it rolled back
    described = deployment(aws, arn)
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    assert "MalformedHookEvent" in described["rollback"]["reason"]
    assert fleet.serving(aws) == {"web-blue": 100}


def test_a_hooks_memory_of_answers_is_its_sandboxs_not_the_process() -> None:
    # Given an ECS-native hook event answered FAILED in one account (a config it refuses)
    event = load_event("ecs-native-test-traffic")
    refused = {**event, "hookDetails": {"hookConfig": {"noSuchField": True}}}
    with Emulator() as first:
        answer = first.runtime.invoke(first.output("EcsNativeHookFunctionArn"), refused).json()
        assert answer["hookStatus"] == "FAILED"
        # and its sandbox answers a repeat from memory
        again = first.runtime.invoke(first.output("EcsNativeHookFunctionArn"), refused).json()
        assert again.get("duplicate") is True

    # When the same execution id reaches the hook of a fresh account in the same process
    with Emulator() as second:
        fresh = second.runtime.invoke(second.output("EcsNativeHookFunctionArn"), refused).json()

    # Then that account's sandbox answers it itself: nothing answered elsewhere is reused
    assert fresh["hookStatus"] == "FAILED"
    assert "duplicate" not in fresh
