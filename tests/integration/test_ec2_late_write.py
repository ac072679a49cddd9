"""A weight write still in flight when an alarm rolls the switch back is undone.

The alarm function claims the ending, restores the snapshot and stops the execution; a
Shift task that was already running then lands its write. Nobody runs the machine's
settle after a stop, so the Shift task itself must notice (its step can no longer be
recorded) and put the snapshot back.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet

from .ec2_helpers import (
    ALL_ON_BLUE,
    AwsCalls,
    everything_on,
    finished,
    hooked_layer_clients,
    production,
    record,
    start_switch,
)

pytestmark = pytest.mark.integration


class AlarmDuringFirstWrite(AwsCalls):
    """Fires the guarding alarm just before the Shift task's first ModifyListener."""

    alarm: str = ""
    fired: bool = False

    def _before_call(self, model: Any, params: dict[str, Any], **kwargs: Any) -> Any:
        call = self._call(model)
        if (
            call.function == "ShiftFunction"
            and call.operation == "ModifyListener"
            and not self.fired
        ):
            self.fired = True
            assert self.aws is not None
            with acting_as(None):  # CloudWatch changes the alarm, not the Shift function
                self.aws.client("cloudwatch").set_alarm_state(
                    AlarmName=self.alarm, StateValue="ALARM", StateReason="Threshold Crossed: 5xx"
                )
        return super()._before_call(model, params, **kwargs)


def test_a_late_weight_write_after_an_alarm_rollback_is_undone_by_the_shift_task() -> None:
    calls = AlarmDuringFirstWrite()
    with hooked_layer_clients(calls), Emulator() as aws:
        calls.aws = aws
        fleet = build_ec2_fleet(aws, with_http=False)
        calls.alarm = fleet.alarms[0]
        # Given a canary whose first weight write is in flight when the alarm rolls back
        arn = start_switch(aws, fleet.request(), name="late-write")
        run = finished(aws, arn)
        # Then the alarm handler stopped the execution and recorded the rollback
        assert calls.fired
        assert run.status == "ABORTED"
        assert record(aws, "late-write")["status"] == "ROLLED_BACK"
        # and the write that landed after its restore was undone: traffic is on the snapshot
        assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
