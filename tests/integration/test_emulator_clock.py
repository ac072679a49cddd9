"""The emulated clock the functions and executions see (docs/emulator.md, "Time").

No test here measures wall time: each asserts what the emulated clock says (a context's
remaining time, when a report arrived, how an execution ended), so each holds on a
loaded machine. The hook test is the one the layer needs: a CodeDeploy hook facing a
DynamoDB table whose every call takes nearly (or just over) its read timeout still
reports exactly one status, before its function's timeout.
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator import moto_patches as patches
from bluegreen_emulator.core import clock as clocks
from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet
from bluegreen_emulator.fixtures.ecs_fleet import build_ecs_fleet
from bluegreen_emulator.services.codedeploy_ecs import HOOK_EVENTS
from tests.integration.ec2_helpers import (
    ALL_ON_BLUE,
    everything_on,
    locks_and_guards,
    production,
    record,
    start_switch,
)
from tests.integration.test_codedeploy_hooks import GREEN_VERSION_PROBE, deploy

pytestmark = pytest.mark.integration

_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  NapFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      CodeUri: nap/
      Timeout: 60
  ClockFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      CodeUri: clock/
      Timeout: 60
"""
_NAP = """
import time

def handler(event, context):
    seen = [context.get_remaining_time_in_millis()]
    for seconds in event["naps"]:
        time.sleep(seconds)
        seen.append(context.get_remaining_time_in_millis())
    return seen
"""

_CLOCK = """
import threading
import time

def handler(event, context):
    seen = [time.time()]
    time.sleep(event["nap"])
    seen.append(time.time())
    on_a_thread = []
    worker = threading.Thread(target=lambda: on_a_thread.append(time.time()))
    worker.start()
    worker.join()
    return seen + on_a_thread
"""


@pytest.fixture
def napper(tmp_path: Path) -> Iterator[Emulator]:
    """An account whose NapFunction (60 s timeout) sleeps each of `naps` in turn and
    answers its remaining time after each, and whose ClockFunction answers its
    `time.time()` before and after a `nap`, and on a thread it starts."""
    (tmp_path / "nap").mkdir()
    (tmp_path / "nap" / "app.py").write_text(dedent(_NAP), encoding="utf-8")
    (tmp_path / "clock").mkdir()
    (tmp_path / "clock" / "app.py").write_text(dedent(_CLOCK), encoding="utf-8")
    (tmp_path / "template.yaml").write_text(_TEMPLATE, encoding="utf-8")
    with Emulator(template=tmp_path / "template.yaml", stack_name="clock") as aws:
        yield aws


def _machine(aws: Emulator, name: str, definition: dict[str, Any]) -> str:
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": aws.function("NapFunction").arn,
            }
        ],
    }
    iam.put_role_policy(
        RoleName=f"{name}-role", PolicyName="invoke", PolicyDocument=json.dumps(policy)
    )
    return str(
        aws.client("stepfunctions").create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=role["Role"]["Arn"]
        )["stateMachineArn"]
    )


# -- functions ------------------------------------------------------------------------------
def test_concurrent_invocations_each_count_only_their_own_time(napper: Emulator) -> None:
    # Given two invocations of NapFunction running at once, one napping 50 s in five
    # naps, the other 5 s in five
    name = napper.function("NapFunction").name
    answers: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)

    def nap(label: str, seconds: float) -> None:
        barrier.wait()
        answers[label] = napper.runtime.invoke(name, {"naps": [seconds] * 5}).json()

    threads = [
        threading.Thread(target=nap, args=("long", 10.0)),
        threading.Thread(target=nap, args=("short", 1.0)),
    ]
    # When they run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then each context counted its own naps, whatever the other did meanwhile
    assert answers["long"] == [60_000, 50_000, 40_000, 30_000, 20_000, 10_000]
    assert answers["short"] == [60_000, 59_000, 58_000, 57_000, 56_000, 55_000]


def test_a_functions_time_is_its_invocations_emulated_date(napper: Emulator) -> None:
    # Given the account's emulated date now
    name = napper.function("ClockFunction").name
    start = napper.clock.epoch()

    # When the function reads time.time() around a 30 s nap
    first = napper.runtime.invoke(name, {"nap": 30}).json()
    # Then it read the account's date, then 30 s later (on its own thread and on one it
    # started), however long the invocation took for real
    assert first == pytest.approx([start, start + 30, start + 30], abs=1e-6)

    # When an hour passes for the account, and the function runs again
    napper.clock.advance(3600)
    later = napper.runtime.invoke(name, {"nap": 0}).json()
    # Then its date is an hour later; outside the invocation time.time is the real clock
    assert later == pytest.approx([start + 3600] * 3, abs=1e-6)
    assert time.time() < start + 3600


def test_a_task_waits_for_its_function_and_the_account_time_moves_for_everyone(
    napper: Emulator,
) -> None:
    # Given a machine allowed 100 s that invokes NapFunction (40 s of naps) twice
    nap = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": napper.function("NapFunction").arn,
            "Payload": {"naps": [40]},
        },
    }
    definition = {
        "StartAt": "First",
        "TimeoutSeconds": 100,
        "States": {"First": {**nap, "Next": "Second"}, "Second": {**nap, "End": True}},
    }
    machine = _machine(napper, "napping", definition)

    # When it runs
    ended = napper.wait_for_execution(napper.start_execution(machine, {}, name="twice"))
    # Then the execution waited 80 s for its tasks, within its 100 s
    assert ended["status"] == "SUCCEEDED"

    # When three naps run and then the account's time moves past the 100 s
    definition["States"] = {
        "First": {**nap, "Next": "Second"},
        "Second": {**nap, "Next": "Third"},
        "Third": {**nap, "End": True},
    }
    longer = _machine(napper, "napping-longer", definition)
    ended = napper.wait_for_execution(napper.start_execution(longer, {}, name="thrice"))
    # Then the third task's answer came after the deadline: the execution timed out
    assert ended["status"] == "TIMED_OUT"
    invocations = [i for i in napper.runtime.history if i.function.endswith("NapFunction")]
    assert len(invocations) == 5


# -- a task's own TimeoutSeconds and HeartbeatSeconds ---------------------------------------
def _callback_machine(aws: Emulator, name: str, **timeouts: int) -> str:
    """A machine whose one task invokes NapFunction and waits for its token's answer."""
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": aws.function("NapFunction").arn,
                    "Payload": {"naps": [], "token.$": "$$.Task.Token"},
                },
                **timeouts,
                "End": True,
            }
        },
    }
    return _machine(aws, name, definition)


def _waiting_token(aws: Emulator, execution: str) -> str:
    """The task's token, once it waits for its callback (its function has answered)."""
    sfn = aws.client("stepfunctions")

    def scheduled() -> list[dict[str, Any]]:
        events = sfn.get_execution_history(executionArn=execution)["events"]
        return [e for e in events if e["type"] == "TaskScheduled"]

    _until(lambda: bool(scheduled()))
    _until(lambda: len(aws.runtime.history) == 1)  # the function ran: the task now waits
    parameters = json.loads(scheduled()[0]["taskScheduledEventDetails"]["parameters"])
    return str(parameters["Payload"]["token"])


def _ended_within(aws: Emulator, execution: str, real_seconds: float) -> bool:
    """Whether the execution ended within `real_seconds` (a bound on a wait for an ending
    that must not come: the verdict is that emulated time did not move)."""
    ended = threading.Event()
    sfn = aws.client("stepfunctions")
    for _ in range(int(real_seconds / 0.05)):
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            return True
        ended.wait(0.05)
    return False


def test_a_task_times_out_when_its_emulated_time_reaches_its_timeout_not_before(
    napper: Emulator,
) -> None:
    # Given moto's timed waits of a task (33 in moto_patches/stepfunctions.py), patched
    execute_state = inspect.getmodule(patches.ORIGINALS["ExecutionState._evaluate_with_timeout"])
    assert execute_state is not None
    assert execute_state.threading is not patches.ORIGINALS["execute_state.threading"]
    assert "terminated_event.wait(timeout_seconds)" in inspect.getsource(
        patches.ORIGINALS["ExecutionState._evaluate_with_timeout"]
    )
    assert list(inspect.signature(patches.ORIGINALS["CallbackEndpoint.wait"]).parameters) == [
        "self",
        "timeout",
    ]
    # and an execution waiting for an approval with a 1 s TimeoutSeconds
    machine = _callback_machine(napper, "approving", TimeoutSeconds=1)
    execution = napper.start_execution(machine, {}, name="unanswered")
    token = _waiting_token(napper, execution)

    # When real seconds pass with the account's time still, then most of that second
    assert not _ended_within(napper, execution, 1.5)
    napper.clock.advance(0.9)
    # Then it still waits
    assert not _ended_within(napper, execution, 0.2)

    # When the account's time reaches the task's timeout
    napper.clock.advance(0.1)
    ended = napper.wait_for_execution(execution)

    # Then the task timed out, and an answer after that is refused
    assert ended["status"] == "FAILED"
    assert ended["error"] == "States.Timeout"
    sfn = napper.client("stepfunctions")
    with pytest.raises(sfn.exceptions.ClientError):  # AWS: TaskTimedOut (docs/emulator.md)
        sfn.send_task_success(taskToken=token, output="{}")


def test_an_answer_before_the_timeout_is_the_tasks_result_whatever_time_does_after(
    napper: Emulator,
) -> None:
    # Given an execution waiting for an approval with an hour's TimeoutSeconds
    machine = _callback_machine(napper, "approved", TimeoutSeconds=3600)
    execution = napper.start_execution(machine, {}, name="answered")
    token = _waiting_token(napper, execution)

    # When 59 minutes pass, the approver answers, and then a day passes
    napper.clock.advance(3540)
    napper.client("stepfunctions").send_task_success(taskToken=token, output='{"ok": true}')
    ended = napper.wait_for_execution(execution)
    napper.clock.advance(86400)

    # Then the task's result is the answer
    assert ended["status"] == "SUCCEEDED"
    assert json.loads(ended["output"]) == {"ok": True}


def test_a_task_whose_heartbeats_stop_times_out_with_heartbeat_timeout(napper: Emulator) -> None:
    # Given an execution waiting for a callback, with 60 s heartbeats within an hour
    machine = _callback_machine(napper, "beating", TimeoutSeconds=3600, HeartbeatSeconds=60)
    execution = napper.start_execution(machine, {}, name="beating")
    token = _waiting_token(napper, execution)
    sfn = napper.client("stepfunctions")

    # When a heartbeat comes every 50 s for ten minutes
    for _ in range(12):
        napper.clock.advance(50)
        sfn.send_task_heartbeat(taskToken=token)
    # Then the task still waits
    assert not _ended_within(napper, execution, 0.2)

    # When the heartbeats stop for 60 s
    napper.clock.advance(60)
    ended = napper.wait_for_execution(execution)

    # Then the task failed with States.HeartbeatTimeout
    assert ended["status"] == "FAILED"
    assert ended["error"] == "States.HeartbeatTimeout"


# -- the switch machine's own TimeoutSeconds --------------------------------------------------
def test_a_switch_outliving_its_timeout_is_timed_out_and_reaped(aws: Emulator) -> None:
    # Given a canary switch waiting for an approval nobody gives for a week, its state
    # machine's TimeoutSeconds lowered to a day (the stack's 30 days outlast the longest
    # approval, which would time out first)
    fleet = build_ec2_fleet(aws, with_http=False)
    request = fleet.request(approval={"required": True, "timeoutSeconds": 604800})
    sfn = aws.client("stepfunctions")
    arn = aws.output("SwitchStateMachineArn")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    timeout = definition["TimeoutSeconds"] = 86400
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(definition))
    execution = start_switch(aws, request, name="forgotten-1")
    waiting = aws.client("stepfunctions")

    def asked() -> bool:
        saved = record(aws, "forgotten-1")
        return saved is not None and saved.get("approval", {}).get("state") == "WAITING"

    _until(asked)

    # When the account's time moves past the machine's TimeoutSeconds
    aws.clock.advance(timeout)
    ended = aws.wait_for_execution(execution)
    aws.idle()

    # Then the execution timed out, and the reaper settled it: traffic as snapshotted,
    # the record ROLLED_BACK, the listeners and alarms free
    assert ended["status"] == "TIMED_OUT"
    assert waiting.describe_execution(executionArn=execution)["status"] == "TIMED_OUT"
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    saved = record(aws, "forgotten-1")
    assert saved is not None
    assert saved["status"] == "ROLLED_BACK"
    assert saved["outcome"]["failedAt"] == "WaitForApproval (timed out)"
    assert locks_and_guards(aws, fleet) == []


def test_a_switchs_record_is_dated_on_the_emulated_clock(aws: Emulator) -> None:
    # Given an account whose time moved an hour past the real clock
    fleet = build_ec2_fleet(aws, with_http=False)
    aws.clock.advance(3600)
    expected = aws.clock.epoch()

    # When a switch needing approval begins and asks for it
    request = fleet.request(approval={"required": True, "timeoutSeconds": 7200})
    execution = start_switch(aws, request, name="dated-1")

    def asked() -> bool:
        saved = record(aws, "dated-1")
        return saved is not None and saved.get("approval", {}).get("state") == "WAITING"

    _until(asked)

    # Then its record says it began, and asked, an hour after the real clock's start
    saved = record(aws, "dated-1")
    assert saved is not None
    for stamp in (saved["startedAt"], saved["approval"]["since"]):
        at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        assert int(expected) <= at <= expected + 1  # the record's dates are whole seconds
    aws.client("stepfunctions").stop_execution(executionArn=execution)
    aws.wait_for_execution(execution)
    aws.idle()


def _until(condition: Any, polls: int = 2000) -> None:
    """Poll `condition` (each poll a millisecond of real time at least; a bound, not a
    verdict: the condition is about what the account did, not about time)."""
    ready = threading.Event()
    for _ in range(polls):
        if condition():
            return
        ready.wait(0.005)
    raise AssertionError("the condition never held")


# -- the hook facing a slow table --------------------------------------------------------------
@pytest.mark.parametrize(
    ("latency", "status"),
    [
        pytest.param(4.9, "Succeeded", id="every call answered just inside its read timeout"),
        pytest.param(5.1, "Failed", id="every call timing out, retried once"),
    ],
)
def test_a_hook_facing_a_slow_table_reports_once_before_its_timeout(
    aws: Emulator, latency: float, status: str
) -> None:
    # Given a CodeDeploy canary whose hooks read their configuration (and record their
    # verdicts, and deduplicate) in a DynamoDB table answering every call in `latency`
    # seconds (the hooks' clients time a call out after 5 s, and retry once)
    fleet = build_ecs_fleet(aws)
    deployment_id = deploy(
        aws, fleet, GREEN_VERSION_PROBE, deploymentConfigName="CodeDeployDefault.ECSAllAtOnce"
    )

    # When CodeDeploy runs it to the end
    with aws.slow("dynamodb", "*", latency):
        aws.codedeploy_emulation.run_until_done(deployment_id)

    # Then every hook invoked reported exactly one status, the one its checks reached
    reports = [r for r in aws.codedeploy_emulation.reports if r.deployment_id == deployment_id]
    invoked = [i for i in aws.runtime.history if "CodeDeployHook_" in i.function]
    expected = list(HOOK_EVENTS) if status == "Succeeded" else [HOOK_EVENTS[0]]
    assert [(r.lifecycle_event, r.status) for r in reports] == [(e, status) for e in expected]
    assert len(invoked) == len(reports)
    # and each report arrived before its function's timeout, on the function's own clock,
    # though its table calls took a long time of it
    for report, invocation in zip(reports, invoked, strict=True):
        timeout = aws.runtime.find(invocation.function).timeout
        assert invocation.error_type is None, invocation.payload
        assert 0 < report.at - invocation.started_at < timeout
        assert invocation.emulated_ms >= 2 * latency * 1000
    # and the deployment ended as those statuses say
    info = aws.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == status


def test_the_account_starts_on_a_whole_minute_whatever_the_wall_clocks_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a wall clock 1.14 s before a minute ends (green's first 5xx would otherwise
    # fall in the next minute's bucket, and per-minute figures split by the wall clock)
    monkeypatch.setattr(time, "time", lambda: 1796192158.857)
    # When an emulated account's clock starts
    clock = clocks.Clock()
    # Then its dates begin on that minute: every run buckets its minutes the same way
    assert clock.origin == 1796192100.0
    assert clock.epoch() % 60 == 0
