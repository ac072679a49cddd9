"""Platform adapters: one per thing that moves traffic (see `base.Adapter`).

`adapter_for(kind, clients)` is the one dispatch: the plan chose `kind` once.
"""

from __future__ import annotations

from typing import Any

from ..errors import BlueGreenError
from .alb import AlbAdapter
from .base import Adapter
from .codedeploy_ecs import CodeDeployEcsAdapter
from .ecs_native import EcsNativeAdapter

KINDS = ("alb", "codedeploy-ecs", "ecs-native")


class UnknownPlatform(BlueGreenError):
    """A plan, record or guard names an adapter this stack does not have."""


def kind_of(request: dict[str, Any]) -> str:
    """The adapter a validated request is switched by."""
    if request["platform"] == "EC2":
        return "alb"
    return "codedeploy-ecs" if request["mode"] == "codedeploy" else "ecs-native"


def adapter_for(kind: str, clients: Any) -> Adapter:
    """The adapter for `kind`; `clients` has lazily created `elbv2`, `ecs`, `codedeploy`."""
    if kind == "alb":
        return AlbAdapter(clients.elbv2)
    if kind == "codedeploy-ecs":
        return CodeDeployEcsAdapter(clients.ecs, clients.codedeploy, clients.elbv2)
    if kind == "ecs-native":
        return EcsNativeAdapter(clients.ecs, clients.elbv2)
    raise UnknownPlatform(f"no platform adapter {kind!r} (known: {', '.join(KINDS)})")


__all__ = ["KINDS", "Adapter", "UnknownPlatform", "adapter_for", "kind_of"]
