"""Validation of an ECS switch request, before anything changes.

Two modes: `codedeploy` (service with deployment controller CODE_DEPLOY, switched by a
CodeDeploy ECS blue/green deployment whose AppSpec hooks are this stack's functions) and
`ecs-native` (deployment controller ECS, strategy BLUE_GREEN / LINEAR / CANARY, with
this stack's ECS-native lifecycle hook).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidConfiguration, InvalidInput
from ..hooks.config import parse_config
from ..switch.plan import plan_steps

MODES = ("codedeploy", "ecs-native")
TASK_DEFINITION = re.compile(
    r"^(arn:aws[\w-]*:ecs:[\w-]+:\d{12}:task-definition/)?[A-Za-z0-9_-]{1,255}(:\d+)?$"
)
NAME = re.compile(r"^(arn:aws[\w-]*:ecs:[\w-]+:\d{12}:[\w/-]+|[A-Za-z0-9_-]{1,255})$")
IMAGE = re.compile(r"^[\w.\-/:@]{1,1024}$")
# CodeDeploy's predefined ECS configurations, by (kind, percent, minutes)
PREDEFINED = {
    ("all-at-once", 100, 0): "CodeDeployDefault.ECSAllAtOnce",
    ("canary", 10, 5): "CodeDeployDefault.ECSCanary10Percent5Minutes",
    ("canary", 10, 15): "CodeDeployDefault.ECSCanary10Percent15Minutes",
    ("linear", 10, 1): "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    ("linear", 10, 3): "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
}


def parse_ecs_request(raw: Mapping[str, Any]) -> dict[str, Any]:
    mode = raw.get("mode")
    if mode not in MODES:
        raise InvalidInput("mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    request: dict[str, Any] = {
        "platform": "ECS",
        "mode": mode,
        "cluster": _name(raw, "cluster"),
        "service": _name(raw, "service"),
        **_task_definition(raw),
        "container": _container(raw.get("container")),
        "steps": plan_steps(raw.get("strategy")),  # first: it refuses a non-object
        "strategy": dict(raw["strategy"]),
        "alarms": _alarms(raw.get("alarms", [])),
        "allowStartInAlarm": _flag(raw, "allowStartInAlarm"),
        "hooks": _hooks(raw.get("hooks"), _alarms(raw.get("alarms", []))),
        "monitor": _monitor(raw.get("monitor") or {}),
        "dryRun": _flag(raw, "dryRun"),
        "requestedBy": _text(raw, "requestedBy", "unknown"),
        "version": _text(raw, "version", ""),
        "description": _text(raw, "description", ""),
    }
    if mode == "codedeploy":
        request["codeDeploy"] = _codedeploy(raw.get("codeDeploy"))
        request["deploymentConfig"] = codedeploy_config(request["strategy"], request["steps"])
    else:
        request["ecsNative"] = _ecs_native(raw.get("ecsNative") or {})
        request["deploymentConfiguration"] = native_configuration(
            request["strategy"], request["steps"]
        )
    return request


def _name(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not NAME.match(value):
        raise InvalidInput(key, f"must be an ECS {key} name or ARN, got {value!r}")
    return value


def _task_definition(raw: Mapping[str, Any]) -> dict[str, Any]:
    value, image = raw.get("taskDefinition"), raw.get("image")
    if not isinstance(value, str) or not TASK_DEFINITION.match(value):
        raise InvalidInput(
            "taskDefinition", f"must be a task definition ARN or family[:revision], got {value!r}"
        )
    if image is not None and (not isinstance(image, str) or not IMAGE.match(image)):
        raise InvalidInput("image", f"must be a container image reference, got {image!r}")
    return {"taskDefinition": value, "image": image}


def _container(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("container", "must be an object {name, port}")
    name, port = value.get("name"), value.get("port")
    if not isinstance(name, str) or not name:
        raise InvalidInput("container.name", "is required (the container behind the load balancer)")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidInput("container.port", f"must be a port number, got {port!r}")
    return {"name": name, "port": port}


def _alarms(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput("alarms", "must be a list of alarm names")
    return sorted(set(value))


def _hooks(value: Any, alarms: list[str]) -> dict[str, Any] | None:
    """The hook configuration for this deployment; the switch's alarms guard the hooks too."""
    if value is None and not alarms:
        return None
    if value is not None and not isinstance(value, Mapping):
        raise InvalidInput(
            "hooks", "must be a hook configuration object (docs/hook-configuration.md)"
        )
    value = dict(value or {})
    if alarms:
        value.setdefault("alarms", alarms)
    try:
        parse_config(value, "hooks")
    except InvalidConfiguration as error:
        raise InvalidInput(error.name.replace("hooks: ", "hooks.", 1), error.reason) from None
    return dict(value)


def _monitor(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise InvalidInput("monitor", "must be an object {pollSeconds, timeoutSeconds}")
    poll = _int(value, "pollSeconds", 5, 300, 15, "monitor")
    timeout = _int(value, "timeoutSeconds", 60, 86400, 7200, "monitor")
    return {"pollSeconds": poll, "timeoutSeconds": timeout}


def _codedeploy(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidInput("codeDeploy", "must be an object {application, deploymentGroup}")
    for key in ("application", "deploymentGroup"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise InvalidInput(f"codeDeploy.{key}", "is required in codedeploy mode")
    return {"application": value["application"], "deploymentGroup": value["deploymentGroup"]}


def _ecs_native(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("ecsNative", "must be an object {hookRoleArn, stages}")
    role = value.get("hookRoleArn")
    if role is not None and (not isinstance(role, str) or not role.startswith("arn:")):
        raise InvalidInput("ecsNative.hookRoleArn", "must be an IAM role ARN ECS can assume")
    stages = value.get("stages")
    if stages is not None and (not isinstance(stages, list) or not stages):
        raise InvalidInput("ecsNative.stages", "must be a non-empty list of lifecycle stages")
    return {"hookRoleArn": role, "stages": stages}


def _minutes(seconds: int, field: str) -> int:
    if seconds % 60:
        raise InvalidInput(field, f"must be whole minutes for ECS deployments, got {seconds} s")
    return seconds // 60


def codedeploy_config(strategy: Mapping[str, Any], steps: list[dict[str, int]]) -> dict[str, Any]:
    """The CodeDeploy deployment config: predefined where one fits, else a custom one."""
    kind = strategy["type"]
    if kind == "steps":
        raise InvalidInput(
            "strategy.type",
            "CodeDeploy ECS shifts canary, linear or all at once, not explicit steps",
        )
    if kind == "all-at-once":
        return {"name": PREDEFINED[("all-at-once", 100, 0)], "custom": None}
    percent = steps[0]["percent"]
    field = "strategy.bakeSeconds" if kind == "canary" else "strategy.stepBakeSeconds"
    minutes = _minutes(steps[0]["bakeSeconds"], field)
    if kind == "linear" and 100 % percent:
        raise InvalidInput("strategy.stepPercent", "CodeDeploy linear steps must divide 100")
    name = PREDEFINED.get((kind, percent, minutes))
    if name:
        return {"name": name, "custom": None}
    if kind == "canary":
        routing = {
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": percent, "canaryInterval": minutes},
        }
    else:
        routing = {
            "type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": percent, "linearInterval": minutes},
        }
    return {
        "name": f"bluegreen.ECS{kind.title()}{percent}Percent{minutes}Minutes",
        "custom": routing,
    }


def native_configuration(
    strategy: Mapping[str, Any], steps: list[dict[str, int]]
) -> dict[str, Any]:
    """ECS deploymentConfiguration fields for BLUE_GREEN, CANARY or LINEAR."""
    kind = strategy["type"]
    if kind == "steps":
        raise InvalidInput(
            "strategy.type", "ECS-native shifts canary, linear or all at once, not explicit steps"
        )
    final_bake = _minutes(steps[-1]["bakeSeconds"], "strategy.finalBakeSeconds")
    if kind == "all-at-once":
        return {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": final_bake}
    minutes = _minutes(
        steps[0]["bakeSeconds"],
        "strategy.bakeSeconds" if kind == "canary" else "strategy.stepBakeSeconds",
    )
    if kind == "canary":
        return {
            "strategy": "CANARY",
            "bakeTimeInMinutes": final_bake,
            "canaryConfiguration": {
                "canaryPercent": float(steps[0]["percent"]),
                "canaryBakeTimeInMinutes": minutes,
            },
        }
    return {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": final_bake,
        "linearConfiguration": {
            "stepPercent": float(steps[0]["percent"]),
            "stepBakeTimeInMinutes": minutes,
        },
    }


def _int(source: Mapping[str, Any], key: str, low: int, high: int, default: int, where: str) -> int:
    value = source.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"{where}.{key}", f"must be a whole number from {low} to {high}, got {value!r}"
        )
    return value


def _flag(source: Mapping[str, Any], key: str) -> bool:
    value = source.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(key, f"must be true or false, got {value!r}")
    return value


def _text(source: Mapping[str, Any], key: str, default: str) -> str:
    value = source.get(key, default)
    if not isinstance(value, str) or len(value) > 1024:  # the schema bounds each field
        raise InvalidInput(key, "must be text of at most 1024 characters")
    return value
