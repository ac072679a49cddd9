"""The ECS switch: what each ECS task of the state machine does.

CodeDeploy mode: lock the service, write the per-deployment hook configuration, create
a CodeDeploy ECS blue/green deployment whose AppSpec hooks are this stack's
`CodeDeployHook_<Event>` functions, then follow it (Wait + poll) until CodeDeploy ends
it. ECS-native mode: update the service with the new task definition and a
deployment configuration carrying this stack's lifecycle hook, then follow the service
deployment. Either way the record keeps what the platform did (lifecycle events, hook
verdicts, the final status), and any failure of ours aborts the platform's deployment
with a rollback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .. import announce, records
from ..ec2.gates import refuse_alarms_in_alarm
from ..errors import BlueGreenError, InvalidInput, cause_message
from ..hooks.loader import CONFIG_PK, CONFIG_SK
from ..hooks.verdicts import VERDICT_PK
from ..records import Records
from ..requests.live import check_deployment_group_cluster, check_ecs_container

HOOK_EVENTS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
NATIVE_STAGES = (
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
CODEDEPLOY_DONE = {"Succeeded"}
CODEDEPLOY_ENDED = {"Succeeded", "Failed", "Stopped"}
NATIVE_DONE = {"SUCCESSFUL"}
# what CodeDeploy / ECS answer when asked to stop a deployment that has already ended
ALREADY_ENDED = {"DeploymentAlreadyCompletedException", "ConflictException"}
NATIVE_ENDED = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}


class PlatformDeploymentFailed(BlueGreenError):
    """CodeDeploy or ECS ended the deployment without success (it rolled back)."""


class MonitorTimedOut(BlueGreenError):
    """The platform's deployment did not end within the request's monitor timeout."""


@dataclass
class EcsDeps:
    """What the ECS tasks need, injected by the handlers (or by tests)."""

    ecs: Any
    codedeploy: Any
    cloudwatch: Any
    dynamodb: Any
    table: str
    records: Records
    announcer: announce.Announcer
    hook_function_suffix: str = ""
    native_hook_arn: str = ""
    native_hook_role_arn: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# -- plan (read-only) ----------------------------------------------------------------------
def plan(
    request: Mapping[str, Any], deployment_id: str, execution_arn: str, deps: EcsDeps
) -> dict[str, Any]:
    service = _service(deps.ecs, request)
    controller = service.get("deploymentController", {}).get("type", "ECS")
    wanted = "CODE_DEPLOY" if request["mode"] == "codedeploy" else "ECS"
    if controller != wanted:
        raise InvalidInput(
            "mode",
            f"service {service['serviceName']} uses deployment controller {controller}, "
            f"not {wanted}",
        )
    task_definition = _task_definition_arn(deps.ecs, request, service)
    if request["mode"] == "codedeploy":
        _check_codedeploy_group(deps.codedeploy, request, service)
    refuse_alarms_in_alarm(deps.cloudwatch, request["alarms"], request["allowStartInAlarm"])
    return {
        "platform": "ECS",
        "mode": request["mode"],
        "deploymentId": deployment_id,
        "executionArn": execution_arn,
        "serviceArn": service["serviceArn"],
        "clusterArn": service["clusterArn"],
        "from": service.get("taskDefinition", ""),
        "to": task_definition,
        "locks": [service["serviceArn"]],
        "dryRun": request["dryRun"],
        "request": request,
    }


def _service(ecs: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    try:
        described = ecs.describe_services(cluster=request["cluster"], services=[request["service"]])
    except ecs.exceptions.ClusterNotFoundException:
        raise InvalidInput("cluster", f"no ECS cluster {request['cluster']!r}") from None
    services = [s for s in described.get("services", []) if s.get("status") == "ACTIVE"]
    if not services:
        raise InvalidInput(
            "service", f"no active service {request['service']!r} in cluster {request['cluster']!r}"
        )
    return dict(services[0])


def _task_definition_arn(ecs: Any, request: Mapping[str, Any], service: Mapping[str, Any]) -> str:
    try:
        described = ecs.describe_task_definition(taskDefinition=request["taskDefinition"])[
            "taskDefinition"
        ]
    except ecs.exceptions.ClientException:
        raise InvalidInput(
            "taskDefinition", f"{request['taskDefinition']!r} does not exist"
        ) from None
    names = [c["name"] for c in described.get("containerDefinitions", [])]
    if request["container"]["name"] not in names:
        raise InvalidInput(
            "container.name",
            f"task definition has no container {request['container']['name']!r} (has {names})",
        )
    check_ecs_container(request, service, described)
    return "" if request["image"] else str(described["taskDefinitionArn"])


def _check_codedeploy_group(
    codedeploy: Any, request: Mapping[str, Any], service: Mapping[str, Any]
) -> None:
    target = request["codeDeploy"]
    try:
        group = codedeploy.get_deployment_group(
            applicationName=target["application"], deploymentGroupName=target["deploymentGroup"]
        )["deploymentGroupInfo"]
    except (
        codedeploy.exceptions.ApplicationDoesNotExistException,
        codedeploy.exceptions.DeploymentGroupDoesNotExistException,
    ):
        raise InvalidInput(
            "codeDeploy", f"no deployment group {target['application']}/{target['deploymentGroup']}"
        ) from None
    check_deployment_group_cluster(request, group, service)


# -- begin: lock the service, record, guards ------------------------------------------------
def begin(plan_: Mapping[str, Any], deps: EcsDeps) -> dict[str, Any]:
    request = plan_["request"]
    deps.records.begin(
        deployment_id=plan_["deploymentId"],
        execution_arn=plan_["executionArn"],
        lock_resources=plan_["locks"],
        alarms=request["alarms"],
        record={
            "platform": "ECS",
            "mode": request["mode"],
            "requestedBy": request["requestedBy"],
            "version": request["version"],
            "description": request["description"],
            "service": plan_["serviceArn"],
            "from": plan_["from"],
            "to": plan_["to"] or f"{request['taskDefinition']} + {request['image']}",
            "strategy": request["strategy"],
            "snapshot": {"routes": [], "test": None},
        },
        rollback=_rollback_target(plan_, None),
        # held while the platform may still be deploying: the monitor's timeout
        hold_seconds=int(request["monitor"]["timeoutSeconds"]),
    )
    deps.announcer.announce(
        announce.STARTED,
        {
            "deploymentId": plan_["deploymentId"],
            "platform": "ECS",
            "mode": request["mode"],
            "service": plan_["serviceArn"],
            "from": plan_["from"],
            "to": plan_["to"] or f"{request['taskDefinition']} + image {request['image']}",
            "steps": [s["percent"] for s in request["steps"]],
            "requestedBy": request["requestedBy"],
        },
    )
    return {"polls": 0}


def _rollback_target(plan_: Mapping[str, Any], reference: str | None) -> dict[str, Any]:
    request = plan_["request"]
    target: dict[str, Any] = {
        "mode": request["mode"],
        "cluster": plan_["clusterArn"],
        "service": plan_["serviceArn"],
    }
    if request["mode"] == "codedeploy":
        target["codeDeploy"] = request["codeDeploy"]
        target["codeDeployDeploymentId"] = reference
    else:
        target["serviceDeploymentArn"] = reference
    return target


# -- start the platform's deployment -------------------------------------------------------------
def start(plan_: Mapping[str, Any], deps: EcsDeps) -> dict[str, Any]:
    request = plan_["request"]
    task_definition = plan_["to"] or _register(deps.ecs, request)
    if request["mode"] == "codedeploy":
        reference = _start_codedeploy(plan_, task_definition, deps)
    else:
        reference = _start_native(plan_, task_definition, deps)
    deps.records.set_field(
        plan_["deploymentId"],
        "platformDeployment",
        {"id": reference, "taskDefinition": task_definition},
    )
    _update_guards(plan_, reference, deps)
    return {
        "reference": reference,
        "taskDefinition": task_definition,
        "polls": 0,
        "done": False,
        "delaySeconds": request["monitor"]["pollSeconds"],
        "waited": 0,
    }


def _register(ecs: Any, request: Mapping[str, Any]) -> str:
    base = ecs.describe_task_definition(taskDefinition=request["taskDefinition"])["taskDefinition"]
    containers = [dict(c) for c in base["containerDefinitions"]]
    for container in containers:
        if container["name"] == request["container"]["name"]:
            container["image"] = request["image"]
    keep = ("taskRoleArn", "executionRoleArn", "networkMode", "volumes", "placementConstraints",
            "requiresCompatibilities", "cpu", "memory", "runtimePlatform")  # fmt: skip
    args = {k: base[k] for k in keep if base.get(k)}
    registered = ecs.register_task_definition(
        family=base["family"], containerDefinitions=containers, **args
    )
    return str(registered["taskDefinition"]["taskDefinitionArn"])


def _start_codedeploy(plan_: Mapping[str, Any], task_definition: str, deps: EcsDeps) -> str:
    request = plan_["request"]
    config = request["deploymentConfig"]
    if config["custom"]:
        _ensure_config(deps.codedeploy, config)
    appspec = {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": task_definition,
                        "LoadBalancerInfo": {
                            "ContainerName": request["container"]["name"],
                            "ContainerPort": request["container"]["port"],
                        },
                    },
                }
            }
        ],
        "Hooks": [
            {event: f"CodeDeployHook_{event}{deps.hook_function_suffix}"} for event in HOOK_EVENTS
        ],
    }
    created = deps.codedeploy.create_deployment(
        applicationName=request["codeDeploy"]["application"],
        deploymentGroupName=request["codeDeploy"]["deploymentGroup"],
        deploymentConfigName=config["name"],
        description=f"bluegreen switch {plan_['deploymentId']}",
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": json.dumps(appspec)},
        },
    )
    reference = str(created["deploymentId"])
    if request["hooks"] is not None:  # written at once: the first hook runs after Install starts
        deps.dynamodb.put_item(
            TableName=deps.table,
            Item={
                "pk": {"S": CONFIG_PK.format(reference)},
                "sk": {"S": CONFIG_SK},
                "config": {"S": json.dumps(request["hooks"])},
                "deploymentId": {"S": plan_["deploymentId"]},
            },
        )
    return reference


def _ensure_config(codedeploy: Any, config: Mapping[str, Any]) -> None:
    try:
        codedeploy.get_deployment_config(deploymentConfigName=config["name"])
    except codedeploy.exceptions.DeploymentConfigDoesNotExistException:
        try:
            codedeploy.create_deployment_config(
                deploymentConfigName=config["name"],
                computePlatform="ECS",
                trafficRoutingConfig=config["custom"],
            )
        except codedeploy.exceptions.DeploymentConfigAlreadyExistsException:
            return  # created concurrently by another switch: same name, same routing


def _start_native(plan_: Mapping[str, Any], task_definition: str, deps: EcsDeps) -> str:
    request = plan_["request"]
    hook: dict[str, Any] = {
        "hookTargetArn": deps.native_hook_arn,
        "roleArn": request["ecsNative"]["hookRoleArn"] or deps.native_hook_role_arn,
        "lifecycleStages": request["ecsNative"]["stages"] or list(NATIVE_STAGES),
    }
    if request["hooks"] is not None:
        hook["hookDetails"] = {"hookConfig": request["hooks"]}
    configuration = {**request["deploymentConfiguration"], "lifecycleHooks": [hook]}
    if request["alarms"]:
        configuration["alarms"] = {
            "alarmNames": request["alarms"],
            "enable": True,
            "rollback": True,
        }
    deps.ecs.update_service(
        cluster=plan_["clusterArn"],
        service=plan_["serviceArn"],
        taskDefinition=task_definition,
        deploymentConfiguration=configuration,
    )
    listed = deps.ecs.list_service_deployments(
        cluster=plan_["clusterArn"], service=plan_["serviceArn"]
    )
    arns = [d["serviceDeploymentArn"] for d in listed.get("serviceDeployments", [])]
    if not arns:
        raise PlatformDeploymentFailed("ECS accepted the update but lists no service deployment")
    return str(arns[0])


def _update_guards(plan_: Mapping[str, Any], reference: str, deps: EcsDeps) -> None:
    target = _rollback_target(plan_, reference)
    for alarm in plan_["request"]["alarms"]:
        deps.records.update_guard_rollback(alarm, plan_["deploymentId"], target)


# -- follow ---------------------------------------------------------------------------------------
def observe(plan_: Mapping[str, Any], progress: Mapping[str, Any], deps: EcsDeps) -> dict[str, Any]:
    """One poll of the platform's deployment; records what changed since the last one."""
    polls = int(progress.get("polls", 0)) + 1
    if plan_["mode"] == "codedeploy":
        info = deps.codedeploy.get_deployment(deploymentId=progress["reference"])["deploymentInfo"]
        status = info["status"]
        done, ended = status in CODEDEPLOY_DONE, status in CODEDEPLOY_ENDED
        events = _lifecycle_events(deps.codedeploy, progress["reference"])
        reason = info.get("errorInformation", {}).get("message", "")
    else:
        described = deps.ecs.describe_service_deployments(
            serviceDeploymentArns=[progress["reference"]]
        )
        deployment = described["serviceDeployments"][0]
        status = deployment["status"]
        done, ended = status in NATIVE_DONE, status in NATIVE_ENDED
        events = {"stage": deployment.get("lifecycleStage", "")}
        reason = deployment.get("statusReason", "")
    if events != progress.get("events"):
        deps.records.append_step(
            plan_["deploymentId"],
            {"phase": "platform", "status": status, "events": events, "at": records.now_iso()},
        )
        deps.announcer.announce(
            announce.STEP,
            {
                "deploymentId": plan_["deploymentId"],
                "platform": "ECS",
                "status": status,
                "events": events,
                "index": polls - 1,
            },
        )
    monitor = plan_["request"]["monitor"]
    waited = int(progress.get("waited", 0)) + int(
        progress.get("delaySeconds", monitor["pollSeconds"])
    )
    if not ended and waited >= monitor["timeoutSeconds"]:
        raise MonitorTimedOut(
            f"{progress['reference']} still {status} after {monitor['timeoutSeconds']} s"
        )
    return {
        **progress,
        "polls": polls,
        "waited": waited,
        "delaySeconds": next_delay(monitor["pollSeconds"], progress, events),
        "status": status,
        "done": done,
        "ended": ended,
        "reason": reason,
        "events": events,
    }


MAX_POLL_SECONDS = 120


def next_delay(poll_seconds: int, progress: Mapping[str, Any], events: Any) -> int:
    """Poll at `poll_seconds` while the platform moves; back off (doubling, up to two
    minutes) while it waits (a bake, the old task set's termination wait), so a long
    deployment costs a few state transitions, not hundreds."""
    if events != progress.get("events"):
        return poll_seconds
    previous = int(progress.get("delaySeconds", poll_seconds))
    return max(poll_seconds, min(previous * 2, MAX_POLL_SECONDS))


def _lifecycle_events(codedeploy: Any, deployment_id: str) -> dict[str, str]:
    targets = codedeploy.list_deployment_targets(deploymentId=deployment_id).get("targetIds", [])
    if not targets:
        return {}
    described = codedeploy.batch_get_deployment_targets(
        deploymentId=deployment_id, targetIds=targets[:1]
    )
    for target in described.get("deploymentTargets", []):
        ecs_target = target.get("ecsTarget", {})
        return {e["lifecycleEventName"]: e["status"] for e in ecs_target.get("lifecycleEvents", [])}
    return {}


# -- endings --------------------------------------------------------------------------------
def finish(plan_: Mapping[str, Any], progress: Mapping[str, Any], deps: EcsDeps) -> dict[str, Any]:
    """The platform ended: record its outcome as ours, unlock, announce."""
    deployment_id = plan_["deploymentId"]
    record = deps.records.get(deployment_id)
    if progress["done"]:
        status, detail_type = records.SUCCEEDED, announce.SUCCEEDED
        outcome = {
            "summary": f"{plan_['serviceArn']} runs {progress['taskDefinition']}",
            "platformStatus": progress["status"],
        }
    else:
        status, detail_type = records.ROLLED_BACK, announce.ROLLED_BACK
        hooks = hook_verdicts(deps, progress["reference"])
        failed = [h for h in hooks if h["status"].upper() not in {"SUCCEEDED", "PASSED"}]
        why = "; ".join(f"hook {h['event']} {h['status']}: {h['reason']}" for h in failed)
        outcome = {
            "failedAt": "platform",
            "cause": (
                f"{plan_['mode']} deployment {progress['reference']} ended "
                f"{progress['status']}: {why or progress.get('reason', '')}"
            ).strip(),
            "platformStatus": progress["status"],
            "events": progress.get("events", {}),
            "hooks": hooks,
        }
    try:
        deps.records.claim_outcome(deployment_id, status, outcome)
        decided_here = True
    except records.OutcomeAlreadyDecided:
        decided_here = False
    deps.records.release(deployment_id, record["locks"], record["alarms"])
    if decided_here:
        deps.announcer.announce(
            detail_type, {"deploymentId": deployment_id, "platform": "ECS", **outcome}
        )
    result = {"status": status if decided_here else deps.records.status(deployment_id), **outcome}
    if status != records.SUCCEEDED:
        result["error"] = "SwitchRolledBack.PlatformDeploymentFailed"
    return result


def hook_verdicts(deps: EcsDeps, reference: str) -> list[dict[str, str]]:
    """What each hook answered for this platform deployment, and why (one Query)."""
    response = deps.dynamodb.query(
        TableName=deps.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": VERDICT_PK.format(reference)}},
    )
    return [
        {
            "event": item["sk"]["S"],
            "status": item["status"]["S"],
            "reason": item.get("reason", {}).get("S", ""),
        }
        for item in response.get("Items", [])
    ]


def abort(
    deployment_id: str, failed_at: str, error: Mapping[str, Any], deps: EcsDeps
) -> dict[str, Any]:
    """Our side failed: stop the platform's deployment with a rollback, record, unlock."""
    try:
        record = deps.records.get(deployment_id)
    except records.RecordNotFound:
        return {
            "error": f"SwitchFailed.{error.get('Error') or 'Unknown'}",
            "cause": f"{failed_at}: {error.get('Cause', '')}",
            "status": "NOT_STARTED",
        }
    reference = (record.get("platformDeployment") or {}).get("id")
    stopped = (
        stop_platform_deployment(deps, record.get("mode", ""), reference)
        if reference
        else "not started"
    )
    cause = f"{failed_at}: {error.get('Error') or 'Error'}: {cause_message(error)}"
    outcome = {
        "failedAt": failed_at,
        "error": error.get("Error", ""),
        "cause": cause,
        "platform": stopped,
    }
    try:
        deps.records.claim_outcome(deployment_id, records.ROLLED_BACK, outcome)
        decided_here = True
    except records.OutcomeAlreadyDecided:
        decided_here = False
    deps.records.release(deployment_id, record["locks"], record["alarms"])
    if decided_here:
        deps.announcer.announce(
            announce.ROLLED_BACK,
            {
                "deploymentId": deployment_id,
                "platform": "ECS",
                "failedAt": failed_at,
                "cause": cause,
            },
        )
    return {
        "error": f"SwitchRolledBack.{error.get('Error') or 'Unknown'}",
        "cause": cause,
        "status": records.ROLLED_BACK,
    }


def stop_platform_deployment(deps: EcsDeps, mode: str, reference: str) -> str:
    """StopDeployment(autoRollbackEnabled) or StopServiceDeployment(ROLLBACK); idempotent."""
    try:
        if mode == "codedeploy":
            deps.codedeploy.stop_deployment(deploymentId=reference, autoRollbackEnabled=True)
        else:
            deps.ecs.stop_service_deployment(serviceDeploymentArn=reference, stopType="ROLLBACK")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ALREADY_ENDED:
            raise
        return f"{reference} had already ended"
    return f"stop with rollback requested for {reference}"
