"""ALB listener and rule actions: snapshot, weighted forward, restore, read-back.

A *route* is a listener's default action or a listener rule's actions. The switch
snapshots every route it will touch before the first change; every write is read back;
a restore writes the snapshot and reads it back too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import BlueGreenError

LISTENER = "listener"
RULE = "rule"


class RouteMismatch(BlueGreenError):
    """A route read back differs from what was written."""


class RouteNotForwarding(BlueGreenError):
    """A route has no forward action to the blue or green target group."""


def routes_from(listeners: Iterable[str], rules: Iterable[str]) -> list[dict[str, str]]:
    return [{"kind": LISTENER, "arn": a} for a in listeners] + [
        {"kind": RULE, "arn": a} for a in rules
    ]


def listener_of(route: Mapping[str, str]) -> str:
    """The listener a route belongs to (the lock key), derived from the ARN alone."""
    arn = route["arn"]
    if route["kind"] == LISTENER:
        return arn
    prefix, _, path = arn.partition(":listener-rule/")
    return f"{prefix}:listener/{path.rsplit('/', 1)[0]}"


def snapshot(elbv2: Any, routes: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Current actions of every route: one call for the listeners, one for the rules."""
    actions: dict[str, list[dict[str, Any]]] = {}
    listener_arns = [r["arn"] for r in routes if r["kind"] == LISTENER]
    rule_arns = [r["arn"] for r in routes if r["kind"] == RULE]
    if listener_arns:
        for listener in elbv2.describe_listeners(ListenerArns=listener_arns)["Listeners"]:
            actions[listener["ListenerArn"]] = _writable(listener["DefaultActions"])
    if rule_arns:
        for rule in elbv2.describe_rules(RuleArns=rule_arns)["Rules"]:
            actions[rule["RuleArn"]] = _writable(rule["Actions"])
    return [{"kind": r["kind"], "arn": r["arn"], "actions": actions[r["arn"]]} for r in routes]


def _writable(actions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Actions as Modify* accepts them: a plain forward becomes a ForwardConfig."""
    result = []
    for original in actions:
        action = copy.deepcopy(dict(original))
        if action.get("Type") == "forward" and "ForwardConfig" not in action:
            action["ForwardConfig"] = {
                "TargetGroups": [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
            }
        if action.get("Type") == "forward":
            action.pop("TargetGroupArn", None)
        result.append(action)
    return result


def forward_weights(actions: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Target group ARN -> weight of the route's forward action ({} if none)."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        config = action.get("ForwardConfig")
        if config is None:
            return {action["TargetGroupArn"]: 1}
        return {tg["TargetGroupArn"]: int(tg.get("Weight", 1)) for tg in config["TargetGroups"]}
    return {}


def weighted_actions(
    actions: Sequence[Mapping[str, Any]], weights: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The route's actions with its forward action set to exactly `weights`."""
    result = []
    found = False
    for action in _writable(actions):
        if action.get("Type") == "forward" and not found:
            found = True
            config = action["ForwardConfig"]
            config["TargetGroups"] = [
                {"TargetGroupArn": arn, "Weight": int(weight)} for arn, weight in weights.items()
            ]
        result.append(action)
    if not found:
        raise RouteNotForwarding("the route has no forward action")
    return result


def write(elbv2: Any, route: Mapping[str, Any], actions: Sequence[Mapping[str, Any]]) -> None:
    if route["kind"] == LISTENER:
        elbv2.modify_listener(ListenerArn=route["arn"], DefaultActions=list(actions))
    else:
        elbv2.modify_rule(RuleArn=route["arn"], Actions=list(actions))


def set_weights(
    elbv2: Any, saved: Sequence[Mapping[str, Any]], weights: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Write `weights` to every route, then read them all back; raise on any mismatch."""
    for route in saved:
        write(elbv2, route, weighted_actions(route["actions"], weights))
    return verify(elbv2, saved, expected={route["arn"]: dict(weights) for route in saved})


def restore(elbv2: Any, saved: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Write the snapshot back (one call per route), then read it back."""
    for route in saved:
        write(elbv2, route, route["actions"])
    return verify(
        elbv2, saved, expected={route["arn"]: forward_weights(route["actions"]) for route in saved}
    )


def verify(
    elbv2: Any, saved: Sequence[Mapping[str, Any]], expected: Mapping[str, Mapping[str, int]]
) -> list[dict[str, Any]]:
    """Read every route back; the observed weights, or RouteMismatch naming the route."""
    current = snapshot(elbv2, saved)
    observed = []
    for route in current:
        weights = forward_weights(route["actions"])
        want = {arn: w for arn, w in expected[route["arn"]].items()}
        if _normalise(weights) != _normalise(want):
            raise RouteMismatch(
                f"{route['kind']} {route['arn']}: read back weights {weights}, expected {want}"
            )
        observed.append({"kind": route["kind"], "arn": route["arn"], "weights": weights})
    return observed


def _normalise(weights: Mapping[str, int]) -> dict[str, int]:
    return {arn: w for arn, w in weights.items() if w}
