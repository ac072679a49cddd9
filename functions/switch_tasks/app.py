"""Task functions of the switch state machine: thin adapters over bluegreen.ec2.switch.

One code folder, one Lambda function per handler (each with its own least-privilege
role in template.yaml). The state machine passes exactly what each task needs.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.ec2 import switch
from bluegreen.ecs import switch as ecs_switch
from bluegreen.requests import parse_request
from bluegreen.switch import task_input as given
from bluegreen.wiring import Lazy, ec2_deps, ecs_deps

logger = Logger()
deps = Lazy(ec2_deps)
ecs = Lazy(ecs_deps)
Event = dict[str, Any]


@logger.inject_lambda_context(correlation_id_path="deploymentId")
def plan(event: Event, context: LambdaContext) -> Event:
    deployment_id = given.text(event, "deploymentId")
    execution_arn = given.text(event, "executionArn")
    request = parse_request(event.get("input"))
    if request["platform"] == "ECS":
        return ecs_switch.plan(request, deployment_id, execution_arn, ecs())
    return switch.plan(request, deployment_id, execution_arn, deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def begin(event: Event, context: LambdaContext) -> Event:
    return switch.begin(given.plan(event), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def deploy_revision(event: Event, context: LambdaContext) -> Event:
    return switch.deploy_revision(given.revision_plan(event), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def check_revision(event: Event, context: LambdaContext) -> Event:
    return switch.check_revision(given.revision_plan(event), given.obj(event, "revision"), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def check_health(event: Event, context: LambdaContext) -> Event:
    return switch.check_health(given.plan(event), given.whole(event, "polls", 0), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def test_traffic(event: Event, context: LambdaContext) -> Event:
    return switch.test_traffic(given.plan(event), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def request_approval(event: Event, context: LambdaContext) -> None:
    switch.request_approval(given.plan(event), given.text(event, "taskToken"), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def shift(event: Event, context: LambdaContext) -> Event:
    return switch.shift(given.plan(event), given.whole(event, "index"), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def gate(event: Event, context: LambdaContext) -> Event:
    return switch.gate(given.plan(event), given.whole(event, "index"), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def finish(event: Event, context: LambdaContext) -> Event:
    return switch.finish(given.plan(event), deps())


@logger.inject_lambda_context(correlation_id_path="deploymentId")
def rollback(event: Event, context: LambdaContext) -> Event:
    return switch.rollback(
        given.text(event, "deploymentId"),
        given.text(event, "failedAt"),
        given.failure(event),
        deps(),
    )


# -- ECS ---------------------------------------------------------------------------------------
@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_begin(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.begin(given.plan(event, "ECS"), ecs())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_start(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.start(given.plan(event, "ECS"), ecs())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_observe(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.observe(given.plan(event, "ECS"), given.obj(event, "progress"), ecs())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_finish(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.finish(given.plan(event, "ECS"), given.obj(event, "progress"), ecs())


@logger.inject_lambda_context(correlation_id_path="deploymentId")
def ecs_abort(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.abort(
        given.text(event, "deploymentId"),
        given.text(event, "failedAt"),
        given.failure(event),
        ecs(),
    )
