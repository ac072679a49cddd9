"""The EC2 switch's first state: validate a parsed request against AWS (every resource
exists and hangs together, and is one the stack's registry holds) and plan the steps;
read-only (nothing is locked or written). The tasks after it are in
`bluegreen.switch.ec2`; every ending is `bluegreen.switch.endings.settle`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import registry
from ..checks.alarms import refuse_alarms_in_alarm
from ..errors import InvalidInput
from ..platforms import alb as traffic
from ..requests import live as live_check
from ..switch.plan import weights_for
from .fleet import judge_idle_group


# -- plan (first state: read-only) ---------------------------------------------------------
def plan(
    request: Mapping[str, Any], deployment_id: str, execution_arn: str, deps: Any
) -> dict[str, Any]:
    """Validate a parsed request (`parse_request`) against AWS; change nothing."""
    resources = live_check.check_ec2(request, deps.elbv2, deps.codedeploy)
    registry.check_ec2(
        request, resources.load_balancer_arn, deps.registry, deps.elbv2, deps.codedeploy
    )
    routes = traffic.routes_from(request["listeners"], request["rules"])
    saved = _snapshot_or_refuse(deps.elbv2, routes)
    live, idle = _live_and_idle(request, saved)
    fleet = _fleet_checks(deps.elbv2, request, idle, resources.target_groups[idle])
    refuse_alarms_in_alarm(deps.cloudwatch, request["alarms"], request["allowStartInAlarm"])
    if request["testTraffic"]:
        _snapshot_or_refuse(
            deps.elbv2, traffic.routes_from([request["testTraffic"]["listenerArn"]], [])
        )
    steps = [
        {
            "index": index,
            "percent": step["percent"],
            "bakeSeconds": step["bakeSeconds"],
            "weights": weights_for(step["percent"], live, idle),
            "last": index == len(request["steps"]) - 1,
        }
        for index, step in enumerate(request["steps"])
    ]
    locks = sorted({traffic.listener_of(r) for r in routes})
    if request["testTraffic"]:
        locks = sorted({*locks, request["testTraffic"]["listenerArn"]})
    return {
        "platform": "EC2",
        "deploymentId": deployment_id,
        "executionArn": execution_arn,
        "from": live,
        "to": idle,
        "routes": routes,
        "locks": locks,
        "steps": steps,
        "dryRun": request["dryRun"],
        "hasTestTraffic": request["testTraffic"] is not None,
        "needsApproval": request["approval"]["required"],
        "hasRevision": request["revision"] is not None,
        "current": [
            {"arn": r["arn"], "weights": traffic.forward_weights(r["actions"])} for r in saved
        ],
        "fleetChecks": fleet,
        "request": request,
    }


def _fleet_checks(
    elbv2: Any, request: Mapping[str, Any], idle: str, described: Mapping[str, Any]
) -> dict[str, Any]:
    """The idle group's settings (`bluegreen.ec2.fleet`), under the field that names it."""
    if request["blueTargetGroupArn"]:
        field = "greenTargetGroupArn"
    else:
        field = f"targetGroupArns[{request['targetGroupArns'].index(idle)}]"
    return judge_idle_group(elbv2, request, idle, described, field)


def _snapshot_or_refuse(elbv2: Any, routes: Sequence[Mapping[str, Any]]) -> list[Any]:
    try:
        return traffic.snapshot_routes(elbv2, routes)
    except elbv2.exceptions.ListenerNotFoundException:
        raise InvalidInput(
            "listeners", "a listener does not exist (check the ARNs and region)"
        ) from None
    except elbv2.exceptions.RuleNotFoundException:
        raise InvalidInput("rules", "a listener rule does not exist (check the ARNs)") from None


def _live_and_idle(request: Mapping[str, Any], saved: list[dict[str, Any]]) -> tuple[str, str]:
    """The colour every route sends all its traffic to (live), and the other (idle).

    A switch starts from one colour: a route that splits traffic, or routes that disagree,
    would make the first step move traffic backwards (a rule at 0/100 set to 90/10).
    """
    pair = request["targetGroupArns"]
    on_colour = [(field, _only_colour(field, route, pair)) for field, route in _fields(saved)]
    first_field, live = on_colour[0]
    for field, colour in on_colour[1:]:
        if colour != live:
            raise InvalidInput(
                field,
                f"sends its traffic to {colour} while {first_field} sends it to {live}: "
                "the routes of one switch must agree",
            )
    if request["blueTargetGroupArn"]:
        if live == request["greenTargetGroupArn"]:
            raise InvalidInput(
                "greenTargetGroupArn", "already receives all the traffic: nothing to switch"
            )
        return request["blueTargetGroupArn"], request["greenTargetGroupArn"]
    idle = pair[1] if live == pair[0] else pair[0]
    return live, idle


def _fields(saved: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each route with the request field that named it (`listeners[0]`, `rules[1]`)."""
    seen: dict[str, int] = {}
    named = []
    for route in saved:
        kind = f"{route['kind']}s"
        named.append((f"{kind}[{seen.get(kind, 0)}]", route))
        seen[kind] = seen.get(kind, 0) + 1
    return named


def _only_colour(field: str, route: Mapping[str, Any], pair: list[str]) -> str:
    weights = traffic.forward_weights(route["actions"])
    if not weights:
        raise InvalidInput(field, f"{route['arn']} has no forward action")
    strangers = [arn for arn, w in weights.items() if w and arn not in pair]
    if strangers:
        raise InvalidInput(
            field, f"{route['arn']} also forwards to {strangers[0]}, which is neither colour"
        )
    on = [arn for arn in pair if weights.get(arn)]
    if not on:
        raise InvalidInput(field, f"{route['arn']} forwards to neither target group")
    if len(on) > 1:
        split = ", ".join(f"{arn} {weights[arn]}" for arn in on)
        raise InvalidInput(
            field,
            f"{route['arn']} splits traffic ({split}): a switch starts with all traffic on "
            "one colour; restore the route (or finish the earlier switch) first",
        )
    return on[0]
