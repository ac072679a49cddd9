"""Emulation of Step Functions' `Step Functions Execution Status Change` events.

Step Functions puts one on the account's default bus whenever a Standard execution
changes status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED), as the EventBridge
reference documents it ("AWS Step Functions events"): `source: aws.states`,
`resources: [executionArn]` and a detail with the execution's ARN, its state machine's,
its name and status, `startDate`/`stopDate` in epoch milliseconds, its input and output
with their `inputDetails`/`outputDetails`, and `error`/`cause` when it failed or was
stopped with them (as DescribeExecution shows them). moto puts
none (moto_patches/stepfunctions.py calls here); the events reach rules like any other,
so a rule on them delivers to its Lambda or Step Functions targets, with retries and DLQ.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from moto.events.models import events_backends

if TYPE_CHECKING:
    from ..core.host import Host


def _millis(stamp: datetime | None) -> int | None:
    return None if stamp is None else int(stamp.timestamp() * 1000)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def status_detail(execution: Any, status: str | None = None) -> dict[str, Any]:
    """The event's detail; `status` is the change announced (the execution may have
    changed again since)."""
    status = status or str(getattr(execution.exec_status, "value", execution.exec_status))
    output = _text(execution.output) if status == "SUCCEEDED" else None
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": None if status == "RUNNING" else _millis(execution.stop_date),
        "input": _text(execution.input_data),
        "output": output,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if output is not None else None,
        # a failure's, or a stop's (StopExecution's error and cause, none if it gave none)
        "error": execution.error if status in {"FAILED", "ABORTED"} else None,
        "cause": execution.cause if status in {"FAILED", "ABORTED"} else None,
    }


def publish_status(host: Host, execution: Any, status: str | None = None) -> None:
    detail = status_detail(execution, status)
    events_backends[host.account_id][host.region].put_events(
        [
            {
                "Source": "aws.states",
                "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(detail),
                "Resources": [detail["executionArn"]],
            }
        ]
    )
