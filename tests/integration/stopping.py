"""Interrupting a switch at a chosen point: a stop by hand, an alarm, a lost record.

`stop_at(aws, StopPoint(state, nth, order))` acts the nth time the execution enters
`state`; by default it stops the execution (StopExecution, as the console or the CLI),
or runs the point's `act(aws, execution_arn)` instead:

- `"entering"`: StopExecution as the state starts; for a Lambda task, once the function
  is invoked (the invocation in flight). The execution is ABORTED at once and the reaper
  (EventBridge's status change) settles it; the function still runs to its end
  afterwards, as on AWS, and must not undo the settle.
- `"leaving"`: StopExecution once the state's work is done, before the machine moves on.

The stop runs on the execution's thread, inside moto's state evaluation, so where it
lands is exact and the test needs no timing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

from bluegreen_emulator import Emulator
from bluegreen_emulator.core.identity import acting_as

ORDERS = ("entering", "leaving")
ASL = Path(__file__).resolve().parents[2] / "statemachine" / "switch.asl.json"


def lambda_tasks() -> set[str]:
    """The states that invoke a Lambda function."""
    states = json.loads(ASL.read_text(encoding="utf-8"))["States"]
    return {
        name
        for name, state in states.items()
        if state["Type"] == "Task" and ":lambda:invoke" in state.get("Resource", "")
    }


@dataclass
class StopPoint:
    state: str
    nth: int = 1
    order: str = "entering"
    act: Callable[[Emulator, str], None] | None = None  # default: StopExecution
    entered: int = 0
    stopped: str = ""  # the execution ARN, once acted on
    seen: list[str] = field(default_factory=list)  # every state entered, in order

    @property
    def label(self) -> str:
        return f"{self.state}#{self.nth}-{self.order}"


@contextmanager
def stop_at(aws: Emulator, point: StopPoint) -> Iterator[StopPoint]:
    original = CommonStateField._eval_body
    invoke = aws.runtime.invoke
    tasks = lambda_tasks()
    armed: list[str] = []  # the execution to stop once its task's function is invoked

    def eval_body(state: CommonStateField, env: Any) -> None:
        point.seen.append(state.name)
        due = state.name == point.state and not point.stopped
        if due:
            point.entered += 1
            due = point.entered == point.nth
        arn = env.states.context_object.context_object_data["Execution"]["Id"]
        if due and point.order == "entering":
            if state.name in tasks:
                armed.append(arn)
            else:
                _stop(aws, arn, point)
        original(state, env)
        if due and point.order == "leaving":
            _stop(aws, arn, point)

    def invoke_in_flight(name: str, event: Any) -> Any:
        if armed and not point.stopped:
            _stop(aws, armed.pop(), point)
        return invoke(name, event)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CommonStateField, "_eval_body", eval_body)
        patch.setattr(aws.runtime, "invoke", invoke_in_flight)
        yield point


def _stop(aws: Emulator, arn: str, point: StopPoint) -> None:
    point.stopped = arn
    with acting_as(None):  # the operator (or CloudWatch), not the execution's role
        (point.act or stop_by_hand)(aws, arn)


def stop_by_hand(aws: Emulator, execution_arn: str) -> None:
    aws.client("stepfunctions").stop_execution(
        executionArn=execution_arn, error="Stopped", cause="operator: stopped by hand"
    )
