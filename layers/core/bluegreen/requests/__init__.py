"""The switch request (the state machine's input): one parser, `parse_request`.

First the request's JSON Schema (`switch-request.schema.json`: closed objects at every
depth, bounded counts and strings, no control characters), then the checks a schema
cannot express (steps that increase, two different target groups, ...); it returns the
normalised request with defaults filled in. Each error is an `InvalidInput` naming the
field (JSON path style, e.g. `testTraffic.probes[1].path`) and the reason. The CLI and
the first state (the Plan task) both call it; the checks that need AWS come after, in
`bluegreen.requests.live`, still before anything is locked or written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import schema

PLATFORMS = ("EC2", "ECS")
# What parse_request adds to a request (derived, not given): a plan's request is the
# normalised request, and `raw_form` takes these out to parse it again
DERIVED = ("steps", "deploymentConfig", "deploymentConfiguration")
DERIVED_HEALTH = ("maxPolls",)


def parse_request(raw: Any) -> dict[str, Any]:
    schema.check(raw)  # first: anything but an object is refused naming `$`
    if raw["platform"] == "ECS":
        from .ecs import parse_ecs_request

        return parse_ecs_request(raw)
    from .ec2 import parse_ec2_request

    return parse_ec2_request(raw)


def raw_form(request: Mapping[str, Any]) -> dict[str, Any]:
    """A normalised request as a request again: what `parse_request` derived taken out."""
    raw = {k: v for k, v in request.items() if k not in DERIVED}
    if isinstance(raw.get("healthCheck"), Mapping):
        raw["healthCheck"] = {
            k: v for k, v in raw["healthCheck"].items() if k not in DERIVED_HEALTH
        }
    if raw.get("platform") == "EC2":
        if raw.get("blueTargetGroupArn"):
            raw.pop("targetGroupArns", None)
        else:
            raw.pop("blueTargetGroupArn", None)
            raw.pop("greenTargetGroupArn", None)
    return raw


__all__ = ["parse_request", "raw_form"]
