"""A settle that cannot reach its table for five minutes (emulated) puts production back
first, and records what production serves once the table answers again."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet

from .ec2_helpers import (
    EVERY,
    AwsCalls,
    Fault,
    assert_one_truthful_ending,
    error_response,
    finished,
    hooked_layer_clients,
    start_switch,
)

pytestmark = pytest.mark.integration


class TableDownDuringRollback(AwsCalls):
    """Every DynamoDB call of the settle fails (throttled) for `minutes` of emulated time
    from its first call; notes when production was first written back."""

    minutes: float = 5
    since: float | None = None
    first_restore: float | None = None
    first_store_success: float | None = None

    def _before_call(self, model: Any, params: dict[str, Any], **kwargs: Any) -> Any:
        call = self._call(model)
        if call.function == "SettleFunction" and self.aws is not None:
            waited = self.aws.clock.waited
            if call.service == "dynamodb":
                self.since = waited if self.since is None else self.since
                if waited - self.since < self.minutes * 60:
                    self.calls.append(call)
                    fault = Fault(call, EVERY, "ThrottlingException", 400)
                    return error_response(fault, call)
                if self.first_store_success is None:
                    self.first_store_success = waited
            if call.operation in {"ModifyListener", "ModifyRule"} and self.first_restore is None:
                self.first_restore = waited
        return super()._before_call(model, params, **kwargs)


def test_a_table_down_for_five_minutes_during_a_rollback_restores_first_then_records() -> None:
    calls = TableDownDuringRollback()
    with hooked_layer_clients(calls), Emulator() as aws:
        calls.aws = aws
        fleet = build_ec2_fleet(aws)
        # Given a switch whose probe fails (so the machine rolls back), with the table
        # unreachable for the settle's first five minutes
        request = fleet.request(
            testTraffic={
                "listenerArn": fleet.test_listener_arn,
                "probes": [{"path": "/version", "expect": 200, "contains": "v99"}],
            }
        )
        run = finished(aws, start_switch(aws, request, "table-down"))
        # Then production was written back while the table was down, and the record,
        # once it could be written, says what production serves
        assert calls.since is not None and calls.first_store_success is not None
        assert calls.first_store_success - calls.since >= 300
        assert calls.first_restore is not None and calls.first_restore < calls.first_store_success
        assert run.status == "FAILED"
        assert assert_one_truthful_ending(aws, fleet, "table-down", "table down") == "ROLLED_BACK"
