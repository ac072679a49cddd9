"""The live view, rendered from fixed status snapshots, compared with stored text.

Each snapshot is built the way `bluegreen status` builds it: an execution history (made
here, event by event, in the shape GetExecutionHistory returns) read by
`progress.read`, plus the record, routes, target health and alarms. The rendered text
is compared with `tests/unit/snapshots/cli_status_<case>.txt`; after an intended change
to the view, regenerate them with `BLUEGREEN_UPDATE_SNAPSHOTS=1 make unit` and review the
diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bluegreen_cli import render
from bluegreen_cli.progress import read, verdicts_by_gate
from bluegreen_cli.status import Alarm, Group, Route, Snapshot, exit_code, snapshot_from

pytestmark = pytest.mark.unit

SNAPSHOTS = Path(__file__).parent / "snapshots"
T0 = datetime(2026, 11, 24, 9, 30, 0, tzinfo=UTC)
ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
BLUE = f"{ARN}:targetgroup/shop-blue/6d0ecf831eec9f09"
GREEN = f"{ARN}:targetgroup/shop-green/1d2e3f4a5b6c7d8e"
LISTENER = f"{ARN}:listener/app/shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
RULE = f"{ARN}:listener-rule/app/shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:bluegreen-switch:release-v42"

REQUEST = {
    "platform": "EC2",
    "listeners": [LISTENER],
    "rules": [RULE],
    "blueTargetGroupArn": BLUE,
    "greenTargetGroupArn": GREEN,
    "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
    "alarms": ["shop-5xx", "shop-p99"],
    "requestedBy": "alice@example.com",
    "version": "v42",
}
PLAN = {
    "deploymentId": "release-v42",
    "from": BLUE,
    "to": GREEN,
    "routes": [{"kind": "listener", "arn": LISTENER}, {"kind": "rule", "arn": RULE}],
    "locks": [LISTENER],
    "steps": [
        {"index": 0, "percent": 10, "bakeSeconds": 300, "weights": {BLUE: 90, GREEN: 10}},
        {"index": 1, "percent": 100, "bakeSeconds": 0, "weights": {BLUE: 0, GREEN: 100}},
    ],
    "dryRun": False,
    "hasTestTraffic": True,
    "needsApproval": False,
    "hasRevision": False,
    "request": REQUEST,
}
GATE_OK = [
    {"check": "alarms", "ok": True, "detail": "2 alarm(s) not in ALARM"},
    {"check": "targetHealth", "ok": True, "detail": "2/2 healthy, need 2"},
]


class History:
    """GetExecutionHistory events, one call per event, 7 s apart."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.waited = 0.0  # seconds spent in Wait states so far

    def after(self, seconds: float) -> History:
        """The next event comes `seconds` later (a Wait state that really waited)."""
        self.waited += seconds
        return self

    def _add(self, kind: str, **details: Any) -> History:
        at = T0 + timedelta(seconds=7 * len(self.events) + self.waited)
        self.events.append({"type": kind, "timestamp": at, "id": len(self.events) + 1, **details})
        return self

    def started(self) -> History:
        return self._add(
            "ExecutionStarted", executionStartedEventDetails={"input": json.dumps(REQUEST)}
        )

    def entered(self, state: str, data: Any = None) -> History:
        details = {"name": state, "input": json.dumps(data or {})}
        return self._add("TaskStateEntered", stateEnteredEventDetails=details)

    def exited(self, state: str, data: Any = None) -> History:
        details = {"name": state, "output": json.dumps(data or {})}
        return self._add("TaskStateExited", stateExitedEventDetails=details)

    def task(self, state: str, result: Any = None, entry: Any = None) -> History:
        return self.entered(state, entry)._add("TaskSucceeded").exited(state, result)

    def failed(self, error: str, message: str) -> History:
        cause = json.dumps({"errorMessage": message, "errorType": error})
        return self._add("TaskFailed", taskFailedEventDetails={"error": error, "cause": cause})

    def switch_until_bake(self) -> History:
        return (
            self.started()
            .task("ValidateInput", {"plan": PLAN})
            .task("Begin")
            .task("CheckIdleHealth", {"health": {"healthy": True, "detail": "2/2 healthy, need 2"}})
            .task("TestTraffic")
            .task(
                "ShiftTraffic",
                {"cursor": {"index": 0, "percent": 10, "bakeSeconds": 300}},
                {"cursor": {"index": 0}},
            )
            .entered("Bake", {"cursor": {"index": 0, "bakeSeconds": 300}})
        )


def live(snapshot: Snapshot, weights: dict[str, int], green_problems: list[str]) -> Snapshot:
    snapshot.routes = [
        Route("shop-alb :443", LISTENER, dict(weights)),
        Route("shop-alb /api/*", RULE, dict(weights)),
    ]
    snapshot.groups = [
        Group(BLUE, "shop-blue", "from", 4, 4),
        Group(GREEN, "shop-green", "to", 4 - len(green_problems), 4, green_problems),
    ]
    return snapshot


def build(
    history: History,
    status: str,
    record: dict[str, Any],
    stopped: bool = False,
    **described: Any,
) -> Snapshot:
    end = history.events[-1]["timestamp"]
    execution = {
        "name": "release-v42",
        "executionArn": EXECUTION,
        "status": status,
        "startDate": T0,
        **({"stopDate": end} if stopped else {}),
        **described,
    }
    progress = read(history.events, verdicts_by_gate(record.get("steps", [])))
    snapshot = snapshot_from(None, execution, progress, record, [])
    snapshot.observed_at = (end + timedelta(seconds=42)).isoformat()
    return snapshot


def check(case: str, text: str) -> None:
    path = SNAPSHOTS / f"cli_status_{case}.txt"
    if os.environ.get("BLUEGREEN_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no stored view {path.name}: run with BLUEGREEN_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def test_a_canary_baking_its_first_step() -> None:
    # Given a canary that shifted 10% to green and bakes, alarms quiet, one green target down
    snapshot = build(History().switch_until_bake(), "RUNNING", {"status": "IN_PROGRESS"})
    live(snapshot, {BLUE: 90, GREEN: 10}, ["i-0ab12 draining Target.DeregistrationInProgress"])
    snapshot.alarms = [Alarm("shop-5xx", "OK"), Alarm("shop-p99", "OK")]

    # When the live view renders it, Then it matches the stored view
    view = render.status(snapshot)
    check("baking", view)
    # and a person sees at a glance where it is and what comes next
    assert "baking step 1/2 (10%)" in view
    assert exit_code(snapshot) == 6


def test_a_switch_waiting_for_approval() -> None:
    history = (
        History()
        .started()
        .task(
            "ValidateInput",
            {
                "plan": {
                    **PLAN,
                    "needsApproval": True,
                    "request": {**REQUEST, "approval": {"required": True, "timeoutSeconds": 3600}},
                }
            },
        )
        .task("Begin")
        .task("CheckIdleHealth", {"health": {"healthy": True, "detail": "4/4 healthy, need 2"}})
        .task("TestTraffic")
        .entered("WaitForApproval")
        ._add("TaskScheduled", taskScheduledEventDetails={"parameters": '{"Payload": {}}'})
        ._add("TaskSubmitted")
    )
    snapshot = build(history, "RUNNING", {"status": "IN_PROGRESS"})
    live(snapshot, {BLUE: 100, GREEN: 0}, [])
    snapshot.alarms = [Alarm("shop-5xx", "OK"), Alarm("shop-p99", "INSUFFICIENT_DATA", "no data")]

    view = render.status(snapshot)
    check("approval", view)
    assert "bluegreen approve release-v42" in view
    assert "an answer, or the approval times out: 59 min 4 s left of 1 h" in view
    assert exit_code(snapshot) == 5


def test_a_switch_a_gate_rolled_back() -> None:
    # Given the first gate found the 5xx alarm firing, and the machine restored the snapshot
    failing_gate = [
        {"check": "alarms", "ok": False, "detail": "shop-5xx is ALARM (42 target 5xx)"},
        GATE_OK[1],
    ]
    history = (
        History()
        .switch_until_bake()
        .after(300)
        .exited("Bake")
        .entered("Gate")
        .failed("GateFailed", "after step 1 (10%): shop-5xx is ALARM (42 target 5xx)")
        .exited("Gate")
        .task("Rollback", {"rollback": {"status": "ROLLED_BACK"}})
        ._add(
            "ExecutionFailed",
            executionFailedEventDetails={
                "error": "SwitchRolledBack.GateFailed",
                "cause": "Gate: GateFailed: after step 1 (10%): shop-5xx is ALARM (42 target 5xx)",
            },
        )
    )
    record = {
        "status": "ROLLED_BACK",
        "steps": [{"phase": "gate", "index": 0, "percent": 10, "verdicts": failing_gate}],
    }
    snapshot = build(
        history,
        "FAILED",
        record,
        stopped=True,
        error="SwitchRolledBack.GateFailed",
        cause="Gate: GateFailed: after step 1 (10%): shop-5xx is ALARM (42 target 5xx)",
    )
    live(snapshot, {BLUE: 100, GREEN: 0}, [])
    snapshot.alarms = [
        Alarm("shop-5xx", "ALARM", "Threshold Crossed: 42 target 5xx in 1 minute (> 10)"),
        Alarm("shop-p99", "OK"),
    ]

    view = render.status(snapshot)
    check("rolled_back", view)
    assert "ROLLED BACK (GateFailed)" in view
    assert exit_code(snapshot) == 3


def test_a_succeeded_switch_seen_with_describe_only_credentials() -> None:
    # Given a CI role that may describe the execution but read nothing else
    history = (
        History()
        .switch_until_bake()
        .after(300)
        .exited("Bake")
        .task("Gate", {"cursor": {"index": 1}})
        .task(
            "ShiftTraffic",
            {"cursor": {"index": 1, "percent": 100, "bakeSeconds": 0}},
            {"cursor": {"index": 1}},
        )
        .task("Gate", {"cursor": {"index": 2}})
        .task("Finish", {"result": {"live": GREEN}})
        ._add("ExecutionSucceeded")
    )
    snapshot = build(history, "SUCCEEDED", {}, stopped=True)
    snapshot.unreadable = ["record", "routes", "target health"]

    view = render.status(snapshot)
    check("succeeded_describe_only", view)
    assert "[########################################] 100%" in view
    assert exit_code(snapshot) == 0


def test_under_an_emulated_clock_every_time_is_on_the_state_machines_clock() -> None:
    # Given an emulator whose waits last 1/100 of their seconds: the idle group's health
    # poll (15 s) took 0.15 s, and the 300 s bake has run for 1 real second
    health = {"minHealthy": 2, "timeoutSeconds": 600, "pollSeconds": 15}
    plan_request = {**REQUEST, "healthCheck": health}
    plan = {**PLAN, "request": plan_request}
    history = (
        History()
        .started()
        .task("ValidateInput", {"plan": plan})
        .task("Begin")
        .entered("WaitForIdleHealth", {"plan": plan})
        .after(0.15 - 7)  # the poll ended 0.15 s after it began (events are 7 s apart)
        .exited("WaitForIdleHealth")
        .task("CheckIdleHealth", {"health": {"healthy": True, "detail": "2/2 healthy, need 2"}})
        .task(
            "ShiftTraffic",
            {"cursor": {"index": 0, "percent": 10, "bakeSeconds": 300}},
            {"cursor": {"index": 0}},
        )
        .entered("Bake", {"cursor": {"index": 0, "bakeSeconds": 300}})
    )
    snapshot = build(history, "RUNNING", {"status": "IN_PROGRESS"})
    snapshot.observed_at = (history.events[-1]["timestamp"] + timedelta(seconds=1)).isoformat()

    view = render.status(snapshot)
    check("emulated_clock", view)
    # Then the view says which clock it shows, and the bake counts down on it
    assert "times below: state machine clock (waits run at x0.01: an emulator)" in view
    assert "bake of step 1/2 (10%): 3 min 20 s left of 5 min (state machine clock)" in view
    assert "started 2026-11-24 09:30:00 UTC (wall clock)" in view


def test_a_switch_aborted_mid_bake_never_shows_a_step_as_now() -> None:
    # Given a canary stopped during its bake (StopExecution: no task failed) and restored
    history = (
        History()
        .switch_until_bake()
        .after(60)
        ._add("ExecutionAborted", executionAbortedEventDetails={"error": "SwitchAborted"})
    )
    snapshot = build(history, "ABORTED", {"status": "ROLLED_BACK"}, stopped=True)

    view = render.status(snapshot)

    assert "> now" not in view
    assert "     1   10%  bake 5 min     ROLLED BACK" in view
    assert "ROLLED BACK" in view.splitlines()[0]


def test_an_ecs_release_shows_its_service_lifecycle_and_countdown() -> None:
    # Given a CodeDeploy ECS release waiting between two looks at the platform
    request = {
        "platform": "ECS",
        "mode": "codedeploy",
        "cluster": "main",
        "service": "web",
        "taskDefinition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:42",
        "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
        "monitor": {"pollSeconds": 15, "timeoutSeconds": 7200},
        "requestedBy": "alice@example.com",
    }
    plan = {
        "platform": "ECS",
        "mode": "codedeploy",
        "from": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:41",
        "to": request["taskDefinition"],
        "locks": ["arn:aws:ecs:eu-west-1:123456789012:service/main/web"],
        "steps": [],
        "request": request,
    }
    history = (
        History()
        .started()
        .task("ValidateInput", {"plan": plan})
        .task("EcsBegin")
        .task("EcsStartDeployment")
        .entered("EcsWait", {"progress": {"delaySeconds": 30}})
    )
    record = {
        "status": "IN_PROGRESS",
        "steps": [
            {
                "phase": "platform",
                "status": "InProgress",
                "events": {
                    "BeforeInstall": "Succeeded",
                    "Install": "Succeeded",
                    "AfterInstall": "Succeeded",
                    "AllowTestTraffic": "Succeeded",
                    "AfterAllowTestTraffic": "InProgress",
                    "BeforeAllowTraffic": "Pending",
                },
            }
        ],
    }
    snapshot = build(history, "RUNNING", record)

    view = render.status(snapshot)
    check("ecs_codedeploy", view)
    assert "ECS service main/web (codedeploy), web:41 -> web:42" in view
    assert "platform deployment inprogress" in view.splitlines()[0]
    assert "AfterAllowTestTraffic            InProgress" in view
    assert "the platform's deployment, or the switch gives up: 1 h 59 min left of 2 h" in view


def test_a_terminal_view_fits_its_width() -> None:
    snapshot = build(History().switch_until_bake(), "RUNNING", {"status": "IN_PROGRESS"})
    live(snapshot, {BLUE: 90, GREEN: 10}, ["i-0ab12 draining Target.DeregistrationInProgress"])

    lines = render.status_lines(snapshot, width=60, height=20)

    texts = ["".join(text for text, _ in line) for line in lines]
    assert max(len(t) for t in texts) <= 60
    assert any(t.endswith("…") for t in texts)  # cut, not wrapped by the terminal
    assert len(texts) <= 20
    assert texts[0].startswith("bluegreen switch release-v42") and texts[0].endswith("(10%)")


@pytest.mark.parametrize(
    ("status", "outcome", "error", "approval", "code"),
    [
        ("SUCCEEDED", "SUCCEEDED", "", "", 0),
        ("FAILED", "ROLLED_BACK", "SwitchRolledBack.GateFailed", "", 3),
        ("ABORTED", "ROLLED_BACK", "AlarmRollback", "", 3),
        ("FAILED", "", "InvalidInput", "", 2),
        ("FAILED", "", "LockHeld", "", 4),
        ("RUNNING", "IN_PROGRESS", "", "WAITING", 5),
        ("RUNNING", "IN_PROGRESS", "", "", 6),
        ("FAILED", "IN_PROGRESS", "RollbackFailed", "", 1),
        ("TIMED_OUT", "IN_PROGRESS", "", "", 1),
    ],
)
def test_exit_codes_a_ci_job_can_branch_on(
    status: str, outcome: str, error: str, approval: str, code: int
) -> None:
    snapshot = Snapshot(
        deployment_id="d",
        execution_arn=EXECUTION,
        status=status,
        outcome=outcome,
        state="",
        started_at=T0.isoformat(),
        stopped_at="",
        observed_at=T0.isoformat(),
        approval=approval,
        error=error,
    )
    assert exit_code(snapshot) == code


@pytest.mark.parametrize(
    ("done", "total", "bar"),
    [
        (0, 8, "[----------------------------------------]   0%  0/8 milestones"),
        (3, 8, "[###############-------------------------]  38%  3/8 milestones"),
        (8, 8, "[########################################] 100%  8/8 milestones"),
        (0, 0, "[........................................]   planning"),
    ],
)
def test_the_progress_bar(done: int, total: int, bar: str) -> None:
    assert render.progress_bar(done, total) == bar
