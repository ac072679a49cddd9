"""Validation of an EC2 switch request (the state machine's input), before anything changes.

`parse_ec2_request` takes a request the schema accepted (`parse_request` checks it first),
checks what a schema cannot say, and returns the normalised request with defaults filled
in. Each error is an `InvalidInput` naming the field (JSON path style, e.g.
`testTraffic.probes[1].path`) and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..checks.analysis_config import parse_analysis_config
from ..checks.probes import parse_probe
from ..checks.thresholds import COMPARISON_NAMES
from ..errors import InvalidInput
from ..switch.plan import plan_steps

_ARN = r"arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:"
LISTENER_ARN = re.compile(_ARN + r"listener/(app|net)/[\w-]+/[0-9a-f]+/[0-9a-f]+$")
RULE_ARN = re.compile(_ARN + r"listener-rule/(app|net)/[\w-]+/[0-9a-f]+/[0-9a-f]+/[0-9a-f]+$")
TARGET_GROUP_ARN = re.compile(_ARN + r"targetgroup/[\w-]+/[0-9a-f]+$")
ALARM_NAME = re.compile(r"^[^\x00-\x1f]{1,255}$")
METRIC_KINDS = ("target5xxRatio", "p99Latency", "custom")


def parse_ec2_request(raw: Mapping[str, Any]) -> dict[str, Any]:
    return _parse_ec2(raw)


def _parse_ec2(raw: Mapping[str, Any]) -> dict[str, Any]:
    listeners = _arn_list(raw, "listeners", LISTENER_ARN, "an ALB listener ARN")
    rules = _arn_list(raw, "rules", RULE_ARN, "an ALB listener rule ARN")
    if not listeners and not rules:
        raise InvalidInput("listeners", "give at least one production listener or listener rule")
    request: dict[str, Any] = {
        "platform": "EC2",
        "listeners": listeners,
        "rules": rules,
        **_target_groups(raw),
        "steps": plan_steps(raw.get("strategy")),  # first: it refuses a non-object
        "strategy": dict(raw["strategy"]),
        "alarms": _alarms(raw.get("alarms", [])),
        "allowStartInAlarm": _bool(raw, "allowStartInAlarm"),
        "fleetChecks": fleet_checks_mode(raw),
        "metricChecks": [_metric(m, i) for i, m in enumerate(_list(raw, "metricChecks"))],
        "healthCheck": _health(raw.get("healthCheck") or {}),
        "testTraffic": _test_traffic(raw.get("testTraffic")),
        "productionTraffic": _production_traffic(raw.get("productionTraffic")),
        "analysis": _analysis(raw.get("analysis")),
        "whenInconclusive": _when_inconclusive(raw.get("whenInconclusive") or {}),
        "syntheticTraffic": _synthetic_traffic(raw.get("syntheticTraffic")),
        "approval": _approval(raw.get("approval") or {}),
        "revision": _revision(raw.get("revision")),
        "dryRun": _bool(raw, "dryRun"),
        "requestedBy": _text(raw, "requestedBy", "unknown"),
        "version": _text(raw, "version", ""),
        "description": _text(raw, "description", ""),
    }
    return request


FLEET_CHECK_MODES = ("warn", "enforce")


def fleet_checks_mode(raw: Mapping[str, Any]) -> str:
    """`fleetChecks`: what a finding about the idle group's settings does (ec2/fleet.py)."""
    mode = raw.get("fleetChecks", "warn")
    if mode not in FLEET_CHECK_MODES:
        raise InvalidInput("fleetChecks", f"must be one of {', '.join(FLEET_CHECK_MODES)}")
    return str(mode)


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(key, f"must be a list, got {type(value).__name__}")
    return value


def _arn_list(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str) -> list[str]:
    values = _list(raw, key)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not pattern.match(value):
            raise InvalidInput(f"{key}[{index}]", f"must be {what}, got {value!r}")
    if len(set(values)) != len(values):
        raise InvalidInput(key, "lists the same ARN twice")
    return list(values)


def _target_groups(raw: Mapping[str, Any]) -> dict[str, Any]:
    blue, green = raw.get("blueTargetGroupArn"), raw.get("greenTargetGroupArn")
    pair = raw.get("targetGroupArns")
    if pair is not None:
        if blue is not None or green is not None:
            raise InvalidInput("targetGroupArns", "give either the pair or blue/green, not both")
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidInput("targetGroupArns", "must list exactly two target group ARNs")
        for index, arn in enumerate(pair):
            _check_tg(f"targetGroupArns[{index}]", arn)
        if pair[0] == pair[1]:
            raise InvalidInput("targetGroupArns", "the two target groups must differ")
        return {
            "targetGroupArns": list(pair),
            "blueTargetGroupArn": None,
            "greenTargetGroupArn": None,
        }
    _check_tg("blueTargetGroupArn", blue)
    _check_tg("greenTargetGroupArn", green)
    if blue == green:
        raise InvalidInput("greenTargetGroupArn", "must differ from blueTargetGroupArn")
    return {
        "targetGroupArns": [blue, green],
        "blueTargetGroupArn": blue,
        "greenTargetGroupArn": green,
    }


def _check_tg(field: str, value: Any) -> None:
    if not isinstance(value, str) or not TARGET_GROUP_ARN.match(value):
        raise InvalidInput(field, f"must be a target group ARN, got {value!r}")


def _alarms(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise InvalidInput("alarms", "must be a list of alarm names")
    for index, name in enumerate(value):
        if not isinstance(name, str) or not ALARM_NAME.match(name):
            raise InvalidInput(f"alarms[{index}]", f"must be a CloudWatch alarm name, got {name!r}")
    if len(value) > 100:
        raise InvalidInput("alarms", "at most 100 alarms")
    if len(set(value)) != len(value):
        raise InvalidInput("alarms", "lists the same alarm twice")
    return list(value)  # in the caller's order: later errors name alarms[i] by position


def _metric(value: Any, index: int) -> dict[str, Any]:
    where = f"metricChecks[{index}]"
    if not isinstance(value, Mapping):
        raise InvalidInput(where, "must be an object")
    kind = value.get("type", "custom")
    if kind not in METRIC_KINDS:
        raise InvalidInput(f"{where}.type", f"must be one of {', '.join(METRIC_KINDS)}")
    threshold = value.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold < 0:
        raise InvalidInput(f"{where}.threshold", "must be a number >= 0")
    check = {
        "id": _text(value, "id", f"{kind}{index}", where=where),
        "type": kind,
        "threshold": float(threshold),
        "comparison": value.get("comparison", "GreaterThanThreshold"),
        "windowSeconds": _bounded(value, "windowSeconds", 60, 86400, 300, where),
        "periodSeconds": _bounded(value, "periodSeconds", 60, 86400, 60, where),
    }
    if check["comparison"] not in COMPARISON_NAMES:
        raise InvalidInput(f"{where}.comparison", f"must be one of {', '.join(COMPARISON_NAMES)}")
    if kind == "custom":
        metric = value.get("metric")
        if not isinstance(metric, Mapping) or not {"namespace", "name"} <= set(metric):
            raise InvalidInput(
                f"{where}.metric", "must give namespace and name (and dimensions, stat)"
            )
        dims = metric.get("dimensions", {})
        if not isinstance(dims, Mapping) or not all(isinstance(v, str) for v in dims.values()):
            raise InvalidInput(f"{where}.metric.dimensions", "must map names to string values")
        check["metric"] = {
            "namespace": str(metric["namespace"]),
            "name": str(metric["name"]),
            "dimensions": dict(dims),
            "stat": str(metric.get("stat", "Sum")),
        }
    return check


def _health(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise InvalidInput("healthCheck", "must be an object {minHealthy, timeoutSeconds}")
    timeout = _bounded(value, "timeoutSeconds", 0, 7200, 600, "healthCheck")
    poll = _bounded(value, "pollSeconds", 5, 300, 15, "healthCheck")
    return {
        "minHealthy": _bounded(value, "minHealthy", 1, 1000, 1, "healthCheck"),
        "timeoutSeconds": timeout,
        "pollSeconds": poll,
        "maxPolls": max(1, timeout // poll),
    }


def _test_traffic(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput("testTraffic", "must be an object {listenerArn, probes}")
    listener = value.get("listenerArn")
    if not isinstance(listener, str) or not LISTENER_ARN.match(listener):
        raise InvalidInput(
            "testTraffic.listenerArn", f"must be an ALB listener ARN, got {listener!r}"
        )
    probes = value.get("probes")
    if not isinstance(probes, list) or not probes:
        raise InvalidInput("testTraffic.probes", "must list at least one probe")
    return {
        "listenerArn": listener,
        "probes": [_probe(p, i) for i, p in enumerate(probes)],
    }


def _probe(value: Any, index: int, section: str = "testTraffic") -> dict[str, Any]:
    where = f"{section}.probes[{index}]"
    if isinstance(value, Mapping) and value.get("host") is not None:
        raise InvalidInput(
            f"{where}.host",
            "the switch probes the listener's own address and sends no Host header; "
            "route by path, or give the listener a default action for this check",
        )
    return parse_probe(value, where)


def _production_traffic(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput("productionTraffic", "must be an object {probes}")
    probes = value.get("probes")
    if not isinstance(probes, list) or not probes:
        raise InvalidInput("productionTraffic.probes", "must list at least one probe")
    return {"probes": [_probe(p, i, "productionTraffic") for i, p in enumerate(probes)]}


def _analysis(value: Any) -> dict[str, Any] | None:
    """The comparative analysis, normalised (`parse_analysis_config` reads it back)."""
    if value is None:
        return None
    return parse_analysis_config(value, "analysis").as_dict()


def _when_inconclusive(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            "whenInconclusive", "must be an object {extendSeconds, maxExtensions, then}"
        )
    then = value.get("then", "fail")
    if then not in ("fail", "pass"):
        raise InvalidInput("whenInconclusive.then", f"must be fail or pass, got {then!r}")
    return {
        "extendSeconds": _bounded(value, "extendSeconds", 60, 86400, 300, "whenInconclusive"),
        "maxExtensions": _bounded(value, "maxExtensions", 0, 10, 2, "whenInconclusive"),
        "then": then,
    }


def _synthetic_traffic(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput("syntheticTraffic", "must be an object {path, ratePerSecond, maxErrors}")
    where = "syntheticTraffic"
    load: dict[str, Any] = {
        "path": parse_probe({"path": value.get("path", "/")}, where)["path"],
        "ratePerSecond": _bounded(value, "ratePerSecond", 1, 50, 5, where),
        "timeoutSeconds": _bounded(value, "timeoutSeconds", 1, 10, 2, where),
        "maxErrors": _bounded(value, "maxErrors", 0, 1_000_000, 0, where),
        "maxSeconds": _bounded(value, "maxSeconds", 60, 86400, 21600, where),
    }
    colours = value.get("colours")
    if colours is not None:
        if not isinstance(colours, Mapping) or set(colours) != {"blue", "green"}:
            raise InvalidInput(
                f"{where}.colours", "must give the text of blue's and green's answers"
            )
        if colours["blue"] == colours["green"] or not all(
            isinstance(v, str) and v for v in colours.values()
        ):
            raise InvalidInput(f"{where}.colours", "blue and green need two different texts")
        load["colours"] = {"blue": colours["blue"], "green": colours["green"]}
    return load


def _approval(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("approval", "must be an object {required, timeoutSeconds}")
    return {
        "required": _bool(value, "required", where="approval"),
        "timeoutSeconds": _bounded(value, "timeoutSeconds", 1, 7 * 86400, 3600, "approval"),
    }


def _revision(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput("revision", "must be an object {application, deploymentGroup, revision}")
    for key in ("application", "deploymentGroup"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise InvalidInput(
                f"revision.{key}", "is required (the idle fleet's CodeDeploy target)"
            )
    if not isinstance(value.get("revision"), Mapping):
        raise InvalidInput("revision.revision", "must be a CodeDeploy RevisionLocation object")
    return {
        "application": value["application"],
        "deploymentGroup": value["deploymentGroup"],
        "revision": dict(value["revision"]),
        "timeoutSeconds": _bounded(value, "timeoutSeconds", 60, 7200, 1800, "revision"),
        "pollSeconds": _bounded(value, "pollSeconds", 5, 300, 15, "revision"),
    }


def _bounded(
    source: Mapping[str, Any], key: str, low: int, high: int, default: int, where: str
) -> int:
    value = source.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"{where}.{key}", f"must be a whole number from {low} to {high}, got {value!r}"
        )
    return value


def _bool(source: Mapping[str, Any], key: str, where: str = "") -> bool:
    value = source.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(
            f"{where}.{key}" if where else key, f"must be true or false, got {value!r}"
        )
    return value


def _text(source: Mapping[str, Any], key: str, default: str, where: str = "") -> str:
    value = source.get(key, default)
    if not isinstance(value, str) or len(value) > 1024:  # the schema bounds each field
        raise InvalidInput(
            f"{where}.{key}" if where else key, "must be text of at most 1024 characters"
        )
    return value
