"""Task functions of the switch state machine: thin adapters over `bluegreen.switch`.

One code folder, one Lambda function per handler (each with its own least-privilege
role in template.yaml). The state machine passes exactly what each task needs; every
ending, whoever asks for it, goes through `settle`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.approval import rejection_of
from bluegreen.ec2 import switch as ec2_plan
from bluegreen.ecs import switch as ecs_plan
from bluegreen.metrics import emit_settled, emit_started
from bluegreen.platforms import kind_of
from bluegreen.requests import parse_request
from bluegreen.switch import ec2, ecs
from bluegreen.switch import task_input as given
from bluegreen.switch.endings import Ask, Subject, describe_failure, settle, target_name
from bluegreen.switch.reaper import ExecutionChange, reap
from bluegreen.wiring import Lazy, reaper_deps, switch_deps

logger = Logger()
deps = Lazy(switch_deps)
Event = dict[str, Any]


@logger.inject_lambda_context(correlation_id_path="deploymentId")
def plan(event: Event, context: LambdaContext) -> Event:
    deployment_id = given.text(event, "deploymentId")
    execution_arn = given.text(event, "executionArn")
    request = parse_request(event.get("input"))
    if request["platform"] == "ECS":
        planned = ecs_plan.plan(request, deployment_id, execution_arn, deps())
    else:
        planned = ec2_plan.plan(request, deployment_id, execution_arn, deps())
    return {**planned, "adapter": kind_of(request)}


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def begin(event: Event, context: LambdaContext) -> Event:
    plan_ = given.plan(event)
    begun = dict(ec2.begin(plan_, deps()))  # type: ignore[arg-type]
    emit_started("EC2", target_name(plan_))
    return begun


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def deploy_revision(event: Event, context: LambdaContext) -> Event:
    return ec2.deploy_revision(given.revision_plan(event), deps())  # type: ignore[arg-type]


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def check_revision(event: Event, context: LambdaContext) -> Event:
    plan_ = given.revision_plan(event)
    return ec2.check_revision(plan_, given.obj(event, "progress"), deps())  # type: ignore[arg-type]


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def check_health(event: Event, context: LambdaContext) -> Event:
    polls = given.whole(event, "polls", 0)
    return ec2.check_health(given.plan(event), polls, deps())  # type: ignore[arg-type]


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def test_traffic(event: Event, context: LambdaContext) -> Event:
    return ec2.test_traffic(given.plan(event), deps())  # type: ignore[arg-type]


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def request_approval(event: Event, context: LambdaContext) -> None:
    given.text(event, "taskToken")  # the machine passes it; it stays in the execution
    ec2.request_approval(given.plan(event), deps())  # type: ignore[arg-type]


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def shift(event: Event, context: LambdaContext) -> Event:
    index = given.whole(event, "index")
    now = given.optional_text(event, "now") or None  # the machine's clock: the step began
    used = given.cursor(event).get("extensions") or 0
    answer = event.get("approval")  # the approver's answer (SendTaskSuccess output), if asked
    return ec2.shift(given.plan(event), index, given.begun(event), deps(), now, used, answer)  # type: ignore[arg-type]


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def gate(event: Event, context: LambdaContext) -> Event:
    plan_, index = given.plan(event), given.whole(event, "index")
    now = given.optional_text(event, "now") or None  # the machine's clock: the window's end
    cursor = given.cursor(event)
    return ec2.gate(plan_, index, deps(), cursor, now)  # type: ignore[arg-type]


# -- ECS ---------------------------------------------------------------------------------------
@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_begin(event: Event, context: LambdaContext) -> Event:
    plan_ = given.plan(event, "ECS")
    begun = dict(ecs.begin(plan_, deps()))  # type: ignore[arg-type]
    emit_started("ECS", target_name(plan_))
    return begun


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_start(event: Event, context: LambdaContext) -> Event:
    plan_ = given.plan(event, "ECS")
    return ecs.start(plan_, given.begun(event), deps())  # type: ignore[arg-type]


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def ecs_observe(event: Event, context: LambdaContext) -> Event:
    plan_ = given.plan(event, "ECS")
    return ecs.observe(plan_, given.obj(event, "progress"), deps())  # type: ignore[arg-type]


# -- every ending ------------------------------------------------------------------------------
@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def settle_switch(event: Event, context: LambdaContext) -> Event:
    """The machine's own ending: success, or a rollback after any failure."""
    plan_ = given.plan(event, None)
    execution_arn = given.text(event, "executionArn")
    if execution_arn != plan_["executionArn"]:
        given.refuse("executionArn", "is not the execution this plan belongs to")
    failed_at, error = given.failed(event)
    subject = Subject.from_state(
        plan_, given.optional_begun(event), given.optional_obj(event, "progress")
    )
    ask = Ask(
        intent=given.intent(event),
        actor={"kind": "execution", "executionArn": execution_arn},
        failed_at=failed_at,
        error=error.get("Error", ""),
        cause=given.optional_text(event, "cause")
        or (describe_failure(failed_at, error) if failed_at else ""),
        answer=rejection_of(failed_at, error),
    )
    settled = settle(subject, ask, deps().endings())
    emit_settled(settled)
    result = settled.as_dict()
    name = ask.error or "Unknown"
    result["error"] = {
        "SUCCEEDED": "",
        "ROLLED_BACK": f"SwitchRolledBack.{name}",
        "FAILED": f"SwitchFailed.{name}",
        "NOT_STARTED": f"SwitchFailed.{name}",
    }[settled.status]
    return result


@logger.inject_lambda_context(correlation_id_path="detail.name")
def reaper(event: Event, context: LambdaContext) -> Event:
    """`Step Functions Execution Status Change` (ABORTED, TIMED_OUT, FAILED): settle what
    the machine could not."""
    answer, settled = reap(ExecutionChange.from_event(event), reaper_deps(deps(), context))
    if settled is not None:
        emit_settled(settled)
    return answer
