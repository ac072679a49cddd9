"""The envelope of a task function's event, checked before anything else happens.

The state machine builds these events, but a task can be invoked by hand (console, CLI,
a replayed event): a wrong envelope is refused with `InvalidInput` naming the field,
never a KeyError or TypeError, and before any AWS call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput

_PLAN_FIELDS = ("deploymentId", "request")


def _event(event: Any) -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise InvalidInput("$", f"the event must be a JSON object, got {type(event).__name__}")
    return event


def obj(event: Any, name: str) -> Mapping[str, Any]:
    value = _event(event).get(name)
    if not isinstance(value, Mapping):
        raise InvalidInput(name, f"must be an object, got {type(value).__name__}")
    return value


def text(event: Any, name: str) -> str:
    value = _event(event).get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(name, f"must be a non-empty string, got {value!r:.80}")
    return value


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(name, f"must be a whole number >= 0, got {value!r:.80}")
    return value


def whole(event: Any, name: str, default: int | None = None) -> int:
    return _whole(_event(event).get(name, default), name)


def optional_text(event: Any, name: str) -> str:
    value = _event(event).get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(name, f"must be a string, got {type(value).__name__}")
    return value


def refuse(name: str, reason: str) -> None:
    raise InvalidInput(name, reason)


def optional_obj(event: Any, name: str) -> Mapping[str, Any]:
    value = _event(event).get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(name, f"must be an object, got {type(value).__name__}")
    return value


def cursor(event: Any) -> Mapping[str, Any]:
    """The gate's cursor (the machine carries it between steps), its `extensions` count
    checked: a whole number, absent or null meaning none used yet."""
    value = optional_obj(event, "cursor")
    if value.get("extensions") is not None:
        _whole(value["extensions"], "cursor.extensions")
    return value


def failure(event: Any) -> dict[str, str]:
    """The `error` a Catch put in the state ({Error, Cause}), or {} when there is none."""
    found = optional_obj(event, "error")
    for key in ("Error", "Cause"):
        if found.get(key) is not None and not isinstance(found[key], str):
            raise InvalidInput(f"error.{key}", "must be a string (as a Catch puts it)")
    return {k: v for k, v in found.items() if k in ("Error", "Cause") and v is not None}


def plan(event: Any, platform: str | None = "EC2") -> Mapping[str, Any]:
    """The `plan` the Plan task returned, checked as a whole: each task trusts it.

    Its request is parsed again (a plan's request is a fixed point of `parse_request`) and
    everything Plan derived from it (routes, locks, steps and their weights) is derived
    again and compared, so a plan that Plan did not produce is refused by name before
    any AWS call, never half-used.
    """
    found = obj(event, "plan")
    platform = platform or str(found.get("platform"))
    if found.get("platform", "EC2") != platform:
        raise InvalidInput("plan.platform", f"must be {platform} for this task")
    for key in ("deploymentId", "executionArn"):
        if not isinstance(found.get(key), str) or not found[key]:
            raise InvalidInput(f"plan.{key}", "must be the text Plan returned")
    request = obj(found, "request")
    if platform == "EC2":
        _check_ec2(found, request)
    else:
        _check_reparses(request)
    from ..platforms import kind_of

    if found.get("adapter") != kind_of(dict(request)):
        raise InvalidInput("plan.adapter", "differs from what Plan derives from the request")
    return found


def revision_plan(event: Any) -> Mapping[str, Any]:
    """An EC2 plan whose request deploys a revision to the idle fleet first."""
    found = plan(event)
    if not isinstance(found["request"].get("revision"), Mapping):
        raise InvalidInput("plan.request.revision", "this switch deploys no revision")
    return found


def _check_reparses(request: Mapping[str, Any]) -> None:
    from ..requests import parse_request, raw_form

    try:
        again = parse_request(raw_form(request))
    except InvalidInput as wrong:
        raise InvalidInput(f"plan.request.{wrong.field}", wrong.reason) from None
    if again != request:
        raise InvalidInput("plan.request", "is not a request Plan produced")


def _check_ec2(found: Mapping[str, Any], request: Mapping[str, Any]) -> None:
    from ..platforms import alb as traffic
    from .plan import weights_for

    _check_reparses(request)
    live, idle = found.get("from"), found.get("to")
    if sorted([live, idle], key=str) != sorted(request["targetGroupArns"]):
        raise InvalidInput("plan.from", "from/to must be the request's two target groups")
    routes = traffic.routes_from(request["listeners"], request["rules"])
    locks = {traffic.listener_of(r) for r in routes}
    if request["testTraffic"]:
        locks.add(request["testTraffic"]["listenerArn"])
    steps = [
        {
            "index": index,
            "percent": step["percent"],
            "bakeSeconds": step["bakeSeconds"],
            "weights": weights_for(step["percent"], str(live), str(idle)),
            "last": index == len(request["steps"]) - 1,
        }
        for index, step in enumerate(request["steps"])
    ]
    expected = {"routes": routes, "locks": sorted(locks), "steps": steps}
    for key, value in expected.items():
        if found.get(key) != value:
            raise InvalidInput(f"plan.{key}", "differs from what Plan derives from the request")
    for key in ("dryRun", "hasTestTraffic", "needsApproval"):
        if not isinstance(found.get(key, False), bool):
            raise InvalidInput(f"plan.{key}", "must be true or false")


def begun(event: Any) -> Mapping[str, Any]:
    """What Begin returned into the state (`{snapshot, startedAt, leaseUntil}`)."""
    found = obj(event, "begun")
    snapshot = found.get("snapshot")
    if not isinstance(snapshot, Mapping) or not isinstance(snapshot.get("routes"), list):
        raise InvalidInput("begun.snapshot", "must be the snapshot Begin returned")
    return found


def optional_begun(event: Any) -> Mapping[str, Any] | None:
    """Begin's result, or None for an ending before Begin finished (`{}` in the state)."""
    found = optional_obj(event, "begun")
    return begun(event) if found else None


def intent(event: Any) -> str:
    value = _event(event).get("intent")
    if value not in ("SUCCEEDED", "ROLLED_BACK"):
        raise InvalidInput("intent", f"must be SUCCEEDED or ROLLED_BACK, got {value!r:.80}")
    return str(value)


def failed(event: Any) -> tuple[str, dict[str, str]]:
    """Where the switch failed and the Catch's `{Error, Cause}`: a Catch puts the error
    under the name of the state that failed (`failed.<State>`), so there is one entry, or
    none on the way to a success."""
    found = optional_obj(event, "failed")
    if not found:
        return "", {}
    if len(found) != 1:
        raise InvalidInput("failed", f"must name one failed state, got {sorted(found)}")
    ((state, error),) = found.items()
    detail = failure({"error": error})
    return str(state), detail
