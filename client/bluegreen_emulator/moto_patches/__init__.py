"""Every change the emulator makes to moto's internals, one module per patched service.

Each patch names the moto behaviour it changes and why.
`tests/integration/test_moto_patches.py` checks each one against the installed moto,
so an upgrade that moves a patch point fails there, by name, instead of somewhere deep
in a switch.

Patches are applied once per process and dispatch to the running emulator (there is at
most one at a time, `registry.ACTIVE`); with no emulator running, moto behaves as shipped.
"""

from __future__ import annotations

import threading
from typing import Any

from . import (
    awslambda,
    clock,
    cloudformation,
    cloudwatch,
    codedeploy,
    dns,
    dynamodb,
    ecs,
    elbv2,
    events,
    iam,
    kms,
    registry,
    responses,
    sdk,
    stepfunctions,
)

ORIGINALS = registry.ORIGINALS
ClockTime = registry.ClockTime
_MODULES = (
    stepfunctions,
    awslambda,
    events,
    cloudwatch,
    elbv2,
    codedeploy,
    dns,
    ecs,
    sdk,
    iam,
    dynamodb,
    cloudformation,
    kms,
    responses,
    clock,
)
_applied = False
_apply_lock = threading.Lock()


def activate(emulator: Any) -> None:
    """Route the patched behaviour to `emulator` (None: back to moto's own)."""
    registry.ACTIVE = emulator
    apply()


def active() -> Any:
    return registry.ACTIVE


def apply() -> None:
    global _applied  # noqa: PLW0603 - once per process
    with _apply_lock:
        if _applied:
            return
        for module in _MODULES:
            module.apply()
        _applied = True
