"""The switch request (the state machine's input): one parser, `parse_request`.

It checks the shape and every value and returns the normalised request with defaults
filled in; each error is an `InvalidInput` naming the field (JSON path style, e.g.
`testTraffic.probes[1].path`) and the reason. The CLI and the first state both call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput

PLATFORMS = ("EC2", "ECS")


def parse_request(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput("$", "the input must be a JSON object")
    platform = raw.get("platform")
    if platform not in PLATFORMS:
        raise InvalidInput("platform", f"must be one of {', '.join(PLATFORMS)}, got {platform!r}")
    if platform == "ECS":
        from .ecs import parse_ecs_request

        return parse_ecs_request(raw)
    from .ec2 import parse_ec2_request

    return parse_ec2_request(raw)


__all__ = ["parse_request"]
