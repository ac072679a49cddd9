"""The alarm rollback's decisions, with in-memory AWS doubles that journal every call.

What these pin down: which calls happen before traffic is restored (and that nothing
else comes between them), which platform call each guard gets, and who records what
when the alarm races the state machine or itself. The emulated end-to-end runs are in
tests/integration/test_alarm_rollback.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bluegreen import store as records
from bluegreen.alarm_rollback import AlarmChange, InvalidAlarmEvent, RollbackDeps, roll_back
from bluegreen.alarm_rollback.rollback import RollbackIncomplete
from bluegreen.records import AlarmClaim, Guard
from tests.conftest import load_event

pytestmark = pytest.mark.unit

LISTENER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop-alb/abc/def"
RULE = "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/shop-alb/abc/def/123"
TEST_LISTENER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop-alb/abc/ghi"
BLUE, GREEN = "arn:tg/blue", "arn:tg/green"
EXECUTION = "arn:aws:states:us-east-1:1:execution:bluegreen-switch:d1"
RESTORES = {"ModifyListener", "ModifyRule", "StopDeployment", "StopServiceDeployment"}


def forward(weights: dict[str, int]) -> list[dict[str, Any]]:
    groups = [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]


# -- doubles ---------------------------------------------------------------------------------
class ConflictException(ClientError):
    pass


class DeploymentAlreadyCompletedException(ClientError):
    pass


class ExecutionDoesNotExist(ClientError):
    pass


def aws_error(kind: type[ClientError], code: str) -> ClientError:
    return kind({"Error": {"Code": code, "Message": code}}, "Call")


class Exceptions:
    ConflictException = ConflictException
    DeploymentAlreadyCompletedException = DeploymentAlreadyCompletedException
    ExecutionDoesNotExist = ExecutionDoesNotExist


@dataclass
class Journal:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    before: dict[str, Callable[[], None]] = field(default_factory=dict)  # one-shot hooks

    def call(self, name: str, **params: Any) -> None:
        self.calls.append((name, params))
        hook = self.before.pop(name, None)
        if hook:
            hook()

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class FakeElbv2:
    exceptions = Exceptions

    def __init__(self, journal: Journal, routes: dict[str, list[dict[str, Any]]]) -> None:
        self.journal, self.routes = journal, routes

    def modify_listener(self, ListenerArn: str, DefaultActions: list[Any]) -> None:
        self.journal.call("ModifyListener", arn=ListenerArn)
        self.routes[ListenerArn] = copy.deepcopy(DefaultActions)

    def modify_rule(self, RuleArn: str, Actions: list[Any]) -> None:
        self.journal.call("ModifyRule", arn=RuleArn)
        self.routes[RuleArn] = copy.deepcopy(Actions)

    def describe_listeners(self, ListenerArns: list[str]) -> dict[str, Any]:
        self.journal.call("DescribeListeners")
        return {
            "Listeners": [
                {"ListenerArn": a, "DefaultActions": copy.deepcopy(self.routes[a])}
                for a in ListenerArns
            ]
        }

    def describe_rules(self, RuleArns: list[str]) -> dict[str, Any]:
        self.journal.call("DescribeRules")
        return {
            "Rules": [{"RuleArn": a, "Actions": copy.deepcopy(self.routes[a])} for a in RuleArns]
        }


class FakeService:
    exceptions = Exceptions

    def __init__(self, journal: Journal, fail: dict[str, Exception] | None = None) -> None:
        self.journal, self.fail = journal, fail or {}

    def _do(self, name: str, **params: Any) -> dict[str, Any]:
        self.journal.call(name, **params)
        if name in self.fail:
            self.journal.calls[-1] = (f"{name} (failed)", params)
            raise self.fail[name]
        return {}

    def stop_deployment(self, **params: Any) -> dict[str, Any]:
        return self._do("StopDeployment", **params)

    def stop_service_deployment(self, **params: Any) -> dict[str, Any]:
        return self._do("StopServiceDeployment", **params)

    def stop_execution(self, **params: Any) -> dict[str, Any]:
        return self._do("StopExecution", **params)

    def put_events(self, **params: Any) -> dict[str, Any]:
        self._do("PutEvents", **params)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


class FakeRecords:
    """The Records methods the rollback uses, over a dict, with the same conditions."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.items: dict[str, dict[str, Any]] = {}
        self.guards: list[Guard] = []
        self.locks: set[str] = set()

    def guards_for_alarm(self, alarm_name: str, now: float | None = None) -> list[Guard]:
        self.journal.call("Query", alarm=alarm_name)
        return [g for g in self.guards if g.alarm == alarm_name]

    def claim_for_alarm(self, deployment_id: str, details: Any, claim_key: str) -> AlarmClaim:
        self.journal.call("UpdateItem", claim=claim_key)
        record = self.items[deployment_id]
        if record["status"] == records.IN_PROGRESS:
            record.update(status=records.ROLLED_BACK, outcome=dict(details), claimKey=claim_key)
            return AlarmClaim(records.CLAIM_WON, copy.deepcopy(record))
        if record.get("claimKey") == claim_key:
            return AlarmClaim(records.CLAIM_AGAIN, copy.deepcopy(record))
        return AlarmClaim(records.CLAIM_LOST, copy.deepcopy(record))

    def mark_once(self, deployment_id: str, name: str) -> bool:
        self.journal.call("UpdateItem", mark=name)
        if name in self.items[deployment_id]:
            return False
        self.items[deployment_id][name] = "now"
        return True

    def get(self, deployment_id: str) -> dict[str, Any]:
        self.journal.call("GetItem")
        return copy.deepcopy(self.items[deployment_id])

    def unmark(self, deployment_id: str, name: str) -> None:
        self.items[deployment_id].pop(name, None)

    def release(self, deployment_id: str, lock_resources: Any, alarms: Any) -> None:
        self.journal.call("DeleteItem", locks=list(lock_resources), alarms=list(alarms))
        self.locks -= set(lock_resources)
        self.guards = [
            g for g in self.guards if not (g.deployment_id == deployment_id and g.alarm in alarms)
        ]


@dataclass
class World:
    journal: Journal
    routes: dict[str, list[dict[str, Any]]]
    records: FakeRecords
    clients: Any
    deps: RollbackDeps


def world(fail: dict[str, Exception] | None = None) -> World:
    journal = Journal()
    routes = {
        LISTENER: forward({BLUE: 90, GREEN: 10}),
        RULE: forward({BLUE: 90, GREEN: 10}),
        TEST_LISTENER: forward({BLUE: 1}),
    }
    fake_records = FakeRecords(journal)
    service = FakeService(journal, fail)

    class Clients:
        elbv2 = FakeElbv2(journal, routes)
        codedeploy = ecs = stepfunctions = events = service

    from bluegreen import announce

    deps = RollbackDeps(
        clients=Clients,
        records=fake_records,  # type: ignore[arg-type]
        announcer=lambda: announce.Announcer(service, "bluegreen", "default"),
        now=lambda: 1795514400.5,  # 2026-11-24T10:00:00.5Z: 500 ms after the alarm event
    )
    return World(journal, routes, fake_records, Clients, deps)


def ec2_guard(w: World, deployment_id: str = "d1", alarm: str = "shop-5xx") -> Guard:
    snapshot = {
        "routes": [
            {"kind": "listener", "arn": LISTENER, "actions": forward({BLUE: 100, GREEN: 0})},
            {"kind": "rule", "arn": RULE, "actions": forward({BLUE: 100, GREEN: 0})},
        ],
        "test": [{"kind": "listener", "arn": TEST_LISTENER, "actions": forward({GREEN: 1})}],
    }
    return _guard(w, deployment_id, alarm, "EC2", {"snapshot": snapshot})


def _guard(w: World, deployment_id: str, alarm: str, platform: str, rollback: Any) -> Guard:
    guard = Guard(
        alarm=alarm,
        deployment_id=deployment_id,
        platform=platform,
        execution_arn=EXECUTION,
        rollback=rollback,
        locks=(LISTENER, TEST_LISTENER),
    )
    w.records.guards.append(guard)
    w.records.locks |= {LISTENER, TEST_LISTENER}
    w.records.items[deployment_id] = {
        "status": records.IN_PROGRESS,
        "locks": [LISTENER, TEST_LISTENER],
        "alarms": [alarm, "shop-p99"],
        "steps": [],
    }
    return guard


def guarded_alarm() -> AlarmChange:
    return AlarmChange.from_event(load_event("alarm-state-change-guarded"))


def announced(w: World) -> list[dict[str, Any]]:
    return [
        json.loads(entry["Detail"])
        for name, params in w.journal.calls
        if name == "PutEvents"
        for entry in params["Entries"]
        if entry["DetailType"] == "Switch Rolled Back"
    ]


# -- the event -----------------------------------------------------------------------------------
def test_the_sample_events_parse_into_alarm_changes_keyed_by_alarm_and_state_time() -> None:
    change = guarded_alarm()
    assert (change.alarm, change.state) == ("shop-5xx", "ALARM")
    assert change.key == "shop-5xx@2026-11-24T10:00:00.000+0000"
    assert change.epoch == 1795514400.0
    assert AlarmChange.from_event(load_event("alarm-state-change-ok")).state == "OK"


def test_an_event_without_an_alarm_name_is_refused_naming_the_field() -> None:
    event = load_event("alarm-state-change-guarded")
    del event["detail"]["alarmName"]
    with pytest.raises(InvalidAlarmEvent, match=r"detail\.alarmName"):
        AlarmChange.from_event(event)


def test_an_event_that_is_not_an_object_is_refused_by_name() -> None:
    with pytest.raises(InvalidAlarmEvent, match="must be a JSON object, got list"):
        AlarmChange.from_event([])


# -- restore first -------------------------------------------------------------------------------
def test_an_ec2_rollback_makes_one_query_then_one_write_per_route_before_anything_else() -> None:
    # Given a canary at 10% on a listener and a rule, guarded by shop-5xx
    w = world()
    ec2_guard(w)

    # When shop-5xx goes to ALARM
    report = roll_back(guarded_alarm(), w.deps)

    # Then the first calls are the guard Query and one Modify per production route
    assert w.journal.names()[:3] == ["Query", "ModifyListener", "ModifyRule"]
    # and both routes are back on the snapshot, the test listener too
    assert w.routes[LISTENER] == forward({BLUE: 100, GREEN: 0})
    assert w.routes[RULE] == forward({BLUE: 100, GREEN: 0})
    assert w.routes[TEST_LISTENER] == forward({GREEN: 1})
    # and the record says ROLLED_BACK, naming the alarm and its reason
    record = w.records.items["d1"]
    assert record["status"] == records.ROLLED_BACK
    assert record["outcome"]["alarm"] == "shop-5xx"
    assert "greater than the threshold" in record["outcome"]["reason"]
    # and the execution was stopped with a cause naming the alarm, the locks released,
    # the guards deleted, one event announced; TimeToRollback measured from the event
    stops = [p for n, p in w.journal.calls if n == "StopExecution"]
    assert stops == [
        {"executionArn": EXECUTION, "error": "AlarmRollback", "cause": stops[0]["cause"]}
    ]
    assert stops[0]["cause"].startswith("alarm shop-5xx in ALARM: Threshold Crossed")
    assert w.records.locks == set()
    assert w.records.guards == []
    assert [e["alarm"] for e in announced(w)] == ["shop-5xx"]
    assert report.as_dict()["deployments"][0]["timeToRollbackMs"] == pytest.approx(500)


def test_the_bookkeeping_runs_in_order_restore_verify_claim_stop_unlock_announce() -> None:
    w = world()
    ec2_guard(w)

    roll_back(guarded_alarm(), w.deps)

    names = w.journal.names()
    order = [
        names.index("DescribeListeners"),  # read-back after the restore
        names.index("UpdateItem"),  # the claim
        names.index("StopExecution"),
        names.index("DeleteItem"),  # the locks
        names.index("PutEvents"),
    ]
    assert order == sorted(order)
    assert names[-1] == "DeleteItem"  # the guards go last, so a retry still finds them


def test_a_write_by_a_task_in_flight_is_undone_after_the_execution_is_stopped() -> None:
    # Given a Shift (or Finish) task in flight that writes after our restore, just as the
    # execution is being stopped
    w = world()
    ec2_guard(w)

    def task_in_flight_writes() -> None:
        w.routes[RULE] = forward({BLUE: 50, GREEN: 50})
        w.routes[TEST_LISTENER] = forward({BLUE: 1})

    w.journal.before["StopExecution"] = task_in_flight_writes

    # When the rollback finishes
    roll_back(guarded_alarm(), w.deps)

    # Then the routes it moved are read back after the stop and restored again
    assert w.routes[RULE] == forward({BLUE: 100, GREEN: 0})
    assert w.routes[TEST_LISTENER] == forward({GREEN: 1})
    assert w.journal.names().count("ModifyRule") == 2


def test_codedeploy_ecs_is_stopped_with_automatic_rollback_right_after_the_query() -> None:
    w = world()
    _guard(w, "e1", "shop-5xx", "ECS", {"codeDeployDeploymentId": "d-ABCDEFGHI"})

    report = roll_back(guarded_alarm(), w.deps)

    assert w.journal.calls[:2] == [
        ("Query", {"alarm": "shop-5xx"}),
        ("StopDeployment", {"deploymentId": "d-ABCDEFGHI", "autoRollbackEnabled": True}),
    ]
    assert w.records.items["e1"]["status"] == records.ROLLED_BACK
    assert [o.result for o in report.outcomes] == [records.ROLLED_BACK]
    assert "StopExecution" in w.journal.names()


def test_ecs_native_is_stopped_with_a_rollback_right_after_the_query() -> None:
    w = world()
    arn = "arn:aws:ecs:us-east-1:1:service-deployment/web-cluster/web/0123456789abcdef"
    _guard(w, "e2", "shop-5xx", "ECS", {"serviceDeploymentArn": arn})

    roll_back(guarded_alarm(), w.deps)

    assert w.journal.calls[:2] == [
        ("Query", {"alarm": "shop-5xx"}),
        ("StopServiceDeployment", {"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
    ]
    assert w.records.items["e2"]["status"] == records.ROLLED_BACK


def test_an_ecs_deployment_started_while_the_alarm_fired_is_stopped_too() -> None:
    # Given an ECS switch that had not created its CodeDeploy deployment when the alarm
    # fired, and whose start task creates it while the rollback is under way
    w = world()
    _guard(w, "e1", "shop-5xx", "ECS", {"mode": "codedeploy", "codeDeployDeploymentId": None})

    def start_task_lands() -> None:
        w.records.items["e1"]["platformDeployment"] = {"id": "d-LATE00000"}

    w.journal.before["UpdateItem"] = start_task_lands

    # When the rollback finishes
    roll_back(guarded_alarm(), w.deps)

    # Then after stopping the execution it stopped that deployment, with its rollback
    names = w.journal.names()
    assert names.index("StopExecution") < names.index("StopDeployment")
    assert ("StopDeployment", {"deploymentId": "d-LATE00000", "autoRollbackEnabled": True}) in (
        w.journal.calls
    )
    assert w.records.items["e1"]["status"] == records.ROLLED_BACK


def test_a_codedeploy_deployment_that_already_completed_is_left_to_the_machine() -> None:
    # Given CodeDeploy finished the deployment just before the alarm
    w = world(fail={"StopDeployment": aws_error(DeploymentAlreadyCompletedException, "Completed")})
    _guard(w, "e1", "shop-5xx", "ECS", {"codeDeployDeploymentId": "d-ABCDEFGHI"})

    report = roll_back(guarded_alarm(), w.deps)

    # Then nothing is claimed or stopped: the machine records what CodeDeploy did
    assert [o.result for o in report.outcomes] == ["ALREADY_ENDED"]
    assert w.records.items["e1"]["status"] == records.IN_PROGRESS
    assert "StopExecution" not in w.journal.names()


# -- nothing to do -------------------------------------------------------------------------------
def test_an_alarm_that_guards_nothing_costs_one_query_and_changes_nothing() -> None:
    w = world()
    ec2_guard(w)
    before = copy.deepcopy(w.routes)

    report = roll_back(AlarmChange.from_event(load_event("alarm-state-change-unrelated")), w.deps)

    assert w.journal.names() == ["Query"]
    assert w.routes == before
    assert report.note == "guards no running deployment"


def test_an_ok_state_makes_no_call_at_all() -> None:
    w = world()
    ec2_guard(w)

    report = roll_back(AlarmChange.from_event(load_event("alarm-state-change-ok")), w.deps)

    assert w.journal.calls == []
    assert report.outcomes == []


# -- exactly once in effect ------------------------------------------------------------------------
def test_a_duplicate_delivered_mid_rollback_finishes_nothing_twice() -> None:
    # Given the same event delivered again while the first delivery is about to claim
    w = world()
    ec2_guard(w)
    w.journal.before["UpdateItem"] = lambda: roll_back(guarded_alarm(), w.deps)

    # When the first delivery carries on
    roll_back(guarded_alarm(), w.deps)

    # Then one ROLLED_BACK record and one announcement
    assert w.records.items["d1"]["status"] == records.ROLLED_BACK
    assert len(announced(w)) == 1
    assert w.records.guards == []


def test_a_retry_after_a_failed_announcement_announces() -> None:
    # Given the first attempt fails at PutEvents after it claimed the outcome
    w = world(fail={"PutEvents": aws_error(ClientError, "ThrottlingException")})
    ec2_guard(w)
    with pytest.raises(ClientError):
        roll_back(guarded_alarm(), w.deps)
    assert w.records.guards != []  # the guards stay for the retry

    # When Lambda retries the same event
    w.clients.events.fail.clear()
    roll_back(guarded_alarm(), w.deps)

    # Then the retry finished the job: one announcement, guards gone
    assert len(announced(w)) == 1
    assert w.records.guards == []


def test_losing_to_the_machines_own_rollback_records_and_announces_nothing() -> None:
    # Given the machine's rollback claims the record between our restore and our claim
    w = world()
    ec2_guard(w)

    def machine_rolls_back() -> None:
        w.records.items["d1"].update(
            status=records.ROLLED_BACK, outcome={"failedAt": "Gate", "error": "GateFailed"}
        )

    w.journal.before["UpdateItem"] = machine_rolls_back

    report = roll_back(guarded_alarm(), w.deps)

    assert report.outcomes[0].result == "ALREADY_ROLLED_BACK"
    assert "the state machine at Gate" in report.outcomes[0].detail
    assert w.records.items["d1"]["outcome"]["failedAt"] == "Gate"
    assert "StopExecution" not in w.journal.names()
    assert announced(w) == []
    # and traffic is on the same snapshot the machine restored
    assert w.routes[LISTENER] == forward({BLUE: 100, GREEN: 0})


def test_an_alarm_that_raced_the_switchs_success_puts_the_final_weights_back() -> None:
    # Given the switch finished (100% green) between our Query and our restore
    w = world()
    ec2_guard(w)
    final = [
        {"kind": "listener", "arn": LISTENER, "weights": {BLUE: 0, GREEN: 100}},
        {"kind": "rule", "arn": RULE, "weights": {BLUE: 0, GREEN: 100}},
    ]

    def switch_succeeds() -> None:
        w.records.items["d1"].update(
            status=records.SUCCEEDED, steps=[{"phase": "shift", "observed": final}]
        )

    w.journal.before["ModifyListener"] = switch_succeeds

    report = roll_back(guarded_alarm(), w.deps)

    # Then the record still says SUCCEEDED and traffic is where the switch left it
    assert report.outcomes[0].result == "ALREADY_SUCCEEDED"
    assert w.records.items["d1"]["status"] == records.SUCCEEDED
    assert w.routes[LISTENER] == forward({BLUE: 0, GREEN: 100})
    assert w.routes[RULE] == forward({BLUE: 0, GREEN: 100})


def test_one_deployment_that_cannot_be_restored_does_not_hold_up_the_others() -> None:
    # Given an alarm guarding an ECS deployment CodeDeploy refuses to stop, and an EC2 one
    w = world(fail={"StopDeployment": aws_error(ClientError, "AccessDeniedException")})
    _guard(w, "e1", "shop-5xx", "ECS", {"codeDeployDeploymentId": "d-ABCDEFGHI"})
    ec2_guard(w, "d1")

    # When the alarm fires, the EC2 one is rolled back and the function still fails
    with pytest.raises(RollbackIncomplete, match="e1"):
        roll_back(guarded_alarm(), w.deps)

    assert w.records.items["d1"]["status"] == records.ROLLED_BACK
    assert w.records.items["e1"]["status"] == records.IN_PROGRESS
