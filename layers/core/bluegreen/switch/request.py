"""Validation of a switch request (the state machine's input)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput

PLATFORMS = ("EC2", "ECS")


def parse_request(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput("$", "the input must be a JSON object")
    platform = raw.get("platform")
    if platform not in PLATFORMS:
        raise InvalidInput("platform", f"must be one of {', '.join(PLATFORMS)}, got {platform!r}")
    return {"platform": platform, **{k: v for k, v in raw.items() if k != "platform"}}
