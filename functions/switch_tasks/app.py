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
from bluegreen.switch.request import parse_request
from bluegreen.wiring import Lazy, ec2_deps, ecs_deps

logger = Logger()
deps = Lazy(ec2_deps)
ecs = Lazy(ecs_deps)
Event = dict[str, Any]


@logger.inject_lambda_context(correlation_id_path="deploymentId")
def plan(event: Event, context: LambdaContext) -> Event:
    request = parse_request(event["input"])
    if request["platform"] == "ECS":
        return ecs_switch.plan(request, event["deploymentId"], event["executionArn"], ecs())
    return switch.plan(event["input"], event["deploymentId"], event["executionArn"], deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def begin(event: Event, context: LambdaContext) -> Event:
    return switch.begin(event["plan"], deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def deploy_revision(event: Event, context: LambdaContext) -> Event:
    return switch.deploy_revision(event["plan"], deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def check_revision(event: Event, context: LambdaContext) -> Event:
    return switch.check_revision(event["plan"], event["revision"], deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def check_health(event: Event, context: LambdaContext) -> Event:
    return switch.check_health(event["plan"], int(event.get("polls", 0)), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def test_traffic(event: Event, context: LambdaContext) -> Event:
    return switch.test_traffic(event["plan"], deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def request_approval(event: Event, context: LambdaContext) -> None:
    switch.request_approval(event["plan"], event["taskToken"], deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def shift(event: Event, context: LambdaContext) -> Event:
    return switch.shift(event["plan"], int(event["index"]), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def gate(event: Event, context: LambdaContext) -> Event:
    return switch.gate(event["plan"], int(event["index"]), deps())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def finish(event: Event, context: LambdaContext) -> Event:
    return switch.finish(event["plan"], deps())


@logger.inject_lambda_context(correlation_id_path="deploymentId")
def rollback(event: Event, context: LambdaContext) -> Event:
    return switch.rollback(
        event["deploymentId"], event["failedAt"], event.get("error") or {}, deps()
    )


# -- ECS ---------------------------------------------------------------------------------------
@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_begin(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.begin(event["plan"], ecs())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_start(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.start(event["plan"], ecs())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_observe(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.observe(event["plan"], event["progress"], ecs())


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_finish(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.finish(event["plan"], event["progress"], ecs())


@logger.inject_lambda_context(correlation_id_path="deploymentId")
def ecs_abort(event: Event, context: LambdaContext) -> Event:
    return ecs_switch.abort(
        event["deploymentId"], event["failedAt"], event.get("error") or {}, ecs()
    )
