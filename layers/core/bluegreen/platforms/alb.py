"""The ALB adapter: listener and rule forward weights (the EC2 switch).

A *route* is a listener's default action or a listener rule's actions. The switch
snapshots every route it will touch before the first change; every write is read back;
a restore writes the snapshot and reads it back too. Weight is never sent to a target
group without a healthy target (the switch checks before each shift).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..contracts import Observation, ObservedRoute, Plan, Route, SavedRoute, Serving, Snapshot
from ..errors import BlueGreenError

LISTENER = "listener"
RULE = "rule"
KIND = "alb"


class RouteMismatch(BlueGreenError):
    """A route read back differs from what was written."""


class RouteNotForwarding(BlueGreenError):
    """A route has no forward action to the blue or green target group."""


def routes_from(listeners: Iterable[str], rules: Iterable[str]) -> list[Route]:
    return [cast(Route, {"kind": LISTENER, "arn": a}) for a in listeners] + [
        cast(Route, {"kind": RULE, "arn": a}) for a in rules
    ]


def listener_of(route: Mapping[str, Any]) -> str:
    """The listener a route belongs to (the lock key), derived from the ARN alone."""
    arn = route["arn"]
    if route["kind"] == LISTENER:
        return arn
    prefix, _, path = arn.partition(":listener-rule/")
    return f"{prefix}:listener/{path.rsplit('/', 1)[0]}"


def snapshot_routes(elbv2: Any, routes: Sequence[Mapping[str, Any]]) -> list[SavedRoute]:
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
    return [
        cast(SavedRoute, {"kind": r["kind"], "arn": r["arn"], "actions": actions[r["arn"]]})
        for r in routes
    ]


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
            action["ForwardConfig"]["TargetGroups"] = [
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
    elbv2: Any, saved: Sequence[SavedRoute], weights: Mapping[str, int]
) -> list[ObservedRoute]:
    """Write `weights` to every route, then read them all back; raise on any mismatch."""
    for route in saved:
        write(elbv2, route, weighted_actions(route["actions"], weights))
    return verify(elbv2, saved, expected={route["arn"]: dict(weights) for route in saved})


def restore_routes(elbv2: Any, saved: Sequence[SavedRoute]) -> list[ObservedRoute]:
    """Write the snapshot back (one call per route), then read it back."""
    for route in saved:
        write(elbv2, route, route["actions"])
    return verify(elbv2, saved, expected=snapshot_weights(saved))


def snapshot_weights(saved: Sequence[SavedRoute]) -> dict[str, dict[str, int]]:
    return {route["arn"]: forward_weights(route["actions"]) for route in saved}


def read_weights(elbv2: Any, routes: Sequence[Mapping[str, Any]]) -> list[ObservedRoute]:
    return [
        cast(
            ObservedRoute,
            {"kind": r["kind"], "arn": r["arn"], "weights": forward_weights(r["actions"])},
        )
        for r in snapshot_routes(elbv2, routes)
    ]


def verify(
    elbv2: Any, saved: Sequence[Mapping[str, Any]], expected: Mapping[str, Mapping[str, int]]
) -> list[ObservedRoute]:
    """Read every route back; the observed weights, or RouteMismatch naming the route."""
    observed = read_weights(elbv2, saved)
    for route in observed:
        want = dict(expected[route["arn"]])
        if _normalise(route["weights"]) != _normalise(want):
            raise RouteMismatch(
                f"{route['kind']} {route['arn']}: read back weights {route['weights']}, "
                f"expected {want}"
            )
    return observed


def _normalise(weights: Mapping[str, int]) -> dict[str, int]:
    return {arn: w for arn, w in weights.items() if w}


def serving(routes: Sequence[ObservedRoute], live: str, idle: str) -> Serving:
    """Which colour every production route sends all its traffic to."""
    sides = set()
    for route in routes:
        on = {arn for arn, weight in route["weights"].items() if weight}
        if on == {live}:
            sides.add("from")
        elif on == {idle}:
            sides.add("to")
        else:
            return "split"
    if len(sides) == 1:
        return cast(Serving, sides.pop())
    return "split" if sides else "unknown"


def _route_name(route: Mapping[str, Any]) -> str:
    """`shop-alb listener` / `shop-alb rule` (the load balancer's name from the ARN)."""
    parts = str(route["arn"]).split(":", 5)[-1].split("/")
    return f"{parts[2] if len(parts) > 2 else route['arn']} {route['kind']}"


def _weights_text(weights: Mapping[str, int]) -> str:
    """`shop-blue 100, shop-green 0` (target group names from their ARNs)."""
    return ", ".join(
        f"{arn.split(':')[-1].split('/')[1] if '/' in arn else arn} {w}"
        for arn, w in sorted(weights.items())
    )


def write_back(elbv2: Any, snapshot: Snapshot) -> None:
    """The snapshot's actions, production first (what users see), then the test listener."""
    for route in snapshot["routes"]:
        write(elbv2, route, route["actions"])
    for route in snapshot.get("test") or []:
        write(elbv2, route, route["actions"])


@dataclass
class AlbAdapter:
    """EC2: production routes and the test listener of one switch."""

    elbv2: Any
    kind: str = KIND

    def snapshot(self, plan: Plan) -> Snapshot:
        request = plan["request"]
        test = None
        if request.get("testTraffic"):
            test = snapshot_routes(
                self.elbv2, routes_from([request["testTraffic"]["listenerArn"]], [])
            )
        return {
            "adapter": "alb",
            "routes": snapshot_routes(self.elbv2, plan.get("routes", [])),
            "test": test,
            "revision": None,
        }

    def apply(self, snapshot: Snapshot, weights: Mapping[str, int]) -> list[ObservedRoute]:
        """One traffic step on every production route, read back."""
        current = snapshot_routes(self.elbv2, snapshot["routes"])
        return set_weights(self.elbv2, current, weights)

    def restore(self, snapshot: Snapshot) -> str:
        write_back(self.elbv2, snapshot)
        return "snapshot written back"

    def complete(self, plan: Plan, snapshot: Snapshot) -> str:
        """The test listener points at the new idle colour (the old live one)."""
        test = snapshot.get("test") or []
        if not test:
            return "no test listener"
        set_weights(self.elbv2, test, {plan["from"]: 1})
        return "test listener on the new idle colour"

    def observe(self, plan: Plan, snapshot: Snapshot) -> Observation:
        live, idle = plan["from"], plan["to"]
        routes = read_weights(self.elbv2, snapshot["routes"])
        test = read_weights(self.elbv2, snapshot.get("test") or [])
        side = serving(routes, live, idle)
        detail = "; ".join(f"{_route_name(r)} {_weights_text(r['weights'])}" for r in routes)
        return {"serving": side, "detail": detail, "routes": routes, "test": test}

    def matches_snapshot(self, snapshot: Snapshot, observed: Observation) -> bool:
        """Production and test routes read back exactly as snapshotted."""
        want = snapshot_weights([*snapshot["routes"], *(snapshot.get("test") or [])])
        seen = [*observed["routes"], *observed.get("test", [])]
        return all(_normalise(r["weights"]) == _normalise(want[r["arn"]]) for r in seen)
