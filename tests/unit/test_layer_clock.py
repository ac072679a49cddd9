"""The layer's clock reads the process's `time.time` and `time.sleep` at each call.

A runtime may give each invocation its own clock by replacing them (the emulator does,
thread by thread); a default captured at import would keep the real clock and stamp a
record, a lease or a metric window with it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from bluegreen import clock as wall_clock
from bluegreen.store import Deployments, now_iso
from bluegreen.switch.deps import SwitchDeps
from bluegreen.synthetic import SyntheticDeps


def test_the_layers_clock_is_whatever_time_time_is_when_it_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the process's time.time and time.sleep replaced after the layer was imported
    slept: list[float] = []
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    monkeypatch.setattr(time, "sleep", slept.append)

    # When the layer's defaults read the time and wait
    wall_clock.sleep(2.5)

    # Then they read and waited on the replacement
    assert wall_clock.now() == 1_800_000_000.0
    assert now_iso() == "2027-01-15T08:00:00Z"
    assert slept == [2.5]


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (Deployments.__init__, "clock"),
        (SwitchDeps, "clock"),
        (SyntheticDeps, "clock"),
        (SyntheticDeps, "sleep"),
    ],
)
def test_no_default_clock_is_the_builtin_captured_at_import(owner: Any, name: str) -> None:
    # Given a default clock of the layer, Then it is the call-time helper
    if isinstance(owner, type):
        default = owner.__dataclass_fields__[name].default
    else:
        default = owner.__defaults__[-1]
    assert default in (wall_clock.now, wall_clock.sleep)
