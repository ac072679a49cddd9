"""Every way an EC2 switch can fail ends restored, recorded, unlocked and explained.

For each failure point the real state machine runs on the emulated AWS against a fresh
fleet (live on blue, test listener on green), and the test checks what an operator would:
the execution FAILED with an error and a cause that say what happened and where, the
production listener and rule are back on the snapshot (read back from the ALB), the test
listener too, the record says ROLLED_BACK with the failed state and the cause, no lock or
alarm guard is left, the bus heard `Switch Rolled Back`, and no weight was ever written
to a target group without a healthy target.

Bad input and a held lock are refused before anything changes: no record, no event.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, set_health
from tests.integration import ec2_helpers
from tests.integration.ec2_helpers import (
    ALL_ON_BLUE,
    ALL_ON_GREEN,
    EVERY,
    AwsCalls,
    Call,
    Run,
    announced,
    approval_token,
    by_colour,
    detail_types,
    everything_on,
    finished,
    locks_and_guards,
    on_announcement,
    on_test_listener,
    production,
    record,
    run_switch,
    start_switch,
)

pytestmark = pytest.mark.integration


# one hooked emulator for the module (fixtures from ec2_helpers)
calls = ec2_helpers.calls_fixture
shared_aws = ec2_helpers.hooked_shared_aws_fixture
aws = ec2_helpers.hooked_aws_fixture
fleets = ec2_helpers.fleets_fixture
fleet = ec2_helpers.fleet_fixture


def assert_rolled_back(
    aws: Emulator,
    fleet: Ec2Fleet,
    calls: AwsCalls,
    run: Run,
    failed_at: str,
    error: str,
    *explained: str,
) -> dict[str, Any]:
    """The switch ended FAILED, restored, recorded ROLLED_BACK, unlocked and announced."""
    # the execution failed, saying what and where
    assert run.status == "FAILED", run.output
    assert run.error == f"SwitchRolledBack.{error}"
    assert run.cause is not None
    assert run.cause.startswith(f"{failed_at}: {error}: "), run.cause
    for words in explained:
        assert words in run.cause
    # traffic is back on the snapshot, read back from the load balancer
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    assert on_test_listener(aws, fleet) == {"blue": 0, "green": 1}
    # the record says so
    saved = record(aws, run.name)
    assert saved is not None
    assert saved["status"] == "ROLLED_BACK"
    outcome = saved["outcome"]
    assert (outcome["failedAt"], outcome["error"], outcome["cause"]) == (
        failed_at,
        error,
        run.cause,
    )
    observed = outcome["observed"]
    assert observed["serving"] == "from"
    restored = {
        o["arn"]: by_colour(fleet, o["weights"]) for o in observed["routes"] + observed["test"]
    }
    assert restored == {
        fleet.listener_arn: ALL_ON_BLUE,
        fleet.rule_arn: ALL_ON_BLUE,
        fleet.test_listener_arn: {"blue": 0, "green": 1},
    }
    assert "endedAt" in saved
    # nothing is left locked or guarded; the bus heard the rollback
    assert locks_and_guards(aws, fleet) == []
    heard = detail_types(aws, run.name)
    assert heard[0] == "Switch Started"
    assert heard[-1] == "Switch Rolled Back"
    # and no weight ever went to a group without a healthy target
    assert calls.unsafe_writes(fleet) == []
    return saved


# -- refused before anything changes -----------------------------------------------------------
def _nothing_changed(aws: Emulator, fleet: Ec2Fleet, run: Run) -> None:
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    assert on_test_listener(aws, fleet) == {"blue": 0, "green": 1}
    assert record(aws, run.name) is None
    assert locks_and_guards(aws, fleet) == []
    assert detail_types(aws, run.name) == []


BAD_INPUT: dict[str, tuple[dict[str, Any], str]] = {
    "typo": ({"stratgey": {"type": "canary"}}, "stratgey: unknown field of an EC2 switch"),
    "nested-typo": (
        {"healthCheck": {"minHealty": 2}},
        "healthCheck.minHealty: unknown field of a health check (did you mean minHealthy?)",
    ),
    "canary-percent": (
        {"strategy": {"type": "canary", "percent": 0, "bakeSeconds": 60}},
        "strategy.percent: must be a whole number from 1 to 99, got 0",
    ),
    "strategy-type": ({"strategy": {"type": "yolo"}}, "strategy.type: must be one of"),
    "steps-not-ending-at-100": (
        {"strategy": {"type": "steps", "steps": [{"percent": 10}, {"percent": 50}]}},
        "strategy.steps: the last step must send 100%",
    ),
    "listener-arn": ({"listeners": ["listener-1"]}, "listeners[0]: must be an ALB listener ARN"),
    "same-groups": ({"greenTargetGroupArn": None}, "greenTargetGroupArn: must be a target group"),
    "missing-target-group": (
        {"greenTargetGroupArn": "MISSING_GROUP"},
        "greenTargetGroupArn: no target group arn:aws:elasticloadbalancing:",
    ),
    "control-characters": (
        {"requestedBy": "ci\u202e"},
        "requestedBy: must not hold control or bidirectional-formatting characters (U+202E",
    ),
    "too-many-alarms": (
        {"alarms": [f"a{i}" for i in range(21)]},
        "alarms: lists at most 20 items, got 21",
    ),
    "min-healthy": (
        {"healthCheck": {"minHealthy": "2"}},
        "healthCheck.minHealthy: must be a whole number",
    ),
    "probe-path": (
        {"testTraffic": "PROBE_PATH"},
        "testTraffic.probes[0].path: must be an absolute path",
    ),
    "missing-alarm-listed-first": (
        {"alarms": "MISSING_FIRST"},
        "alarms[0]: no CloudWatch alarm named 'zz-missing'",
    ),
}


def _bad_request(fleet: Ec2Fleet, overrides: dict[str, Any]) -> dict[str, Any]:
    request = fleet.request()
    for key, value in overrides.items():
        if value == "PROBE_PATH":
            request["testTraffic"]["probes"][0]["path"] = "health/deep"
        elif value == "MISSING_FIRST":
            request["alarms"] = ["zz-missing", *fleet.alarms]
        elif value == "MISSING_GROUP":  # well formed, names no target group
            request["greenTargetGroupArn"] = request["greenTargetGroupArn"][:-4] + "beef"
        elif key == "greenTargetGroupArn":
            request["greenTargetGroupArn"] = request["blueTargetGroupArn"] + "x"
        else:
            request[key] = value
    return request


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_refused_in_the_first_state_naming_the_field(
    aws: Emulator, fleet: Ec2Fleet, case: str
) -> None:
    overrides, message = BAD_INPUT[case]
    # Given a request with one wrong field
    request = _bad_request(fleet, overrides)

    # When the switch runs
    run = run_switch(aws, request, name=f"bad-{case}")

    # Then it failed in the first state with InvalidInput naming the field and why
    assert run.status == "FAILED"
    assert run.error == "InvalidInput"
    assert run.cause is not None
    assert run.cause.startswith(message), run.cause
    assert run.states == ["ValidateInput", "ExplainRefusal", "InputRefused"]
    # and nothing changed: no weight, no record, no lock, no event
    _nothing_changed(aws, fleet, run)


def test_a_listener_that_does_not_exist_is_refused(aws: Emulator, fleet: Ec2Fleet) -> None:
    # Given a well-formed listener ARN that names no listener
    missing = fleet.listener_arn[:-4] + "beef"
    request = fleet.request(listeners=[missing])

    # When the switch runs, Then it is refused naming the field, and nothing changed
    run = run_switch(aws, request, name="bad-missing-listener")
    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert run.cause is not None
    assert run.cause.startswith(f"listeners[0]: no listener {missing}")
    _nothing_changed(aws, fleet, run)


@pytest.mark.parametrize("document", ["canary please", ["EC2"], 7, None], ids=str)
def test_an_input_that_is_not_an_object_is_refused_as_invalid_input_naming_the_whole(
    aws: Emulator, fleet: Ec2Fleet, document: Any
) -> None:
    # Given an execution input that is JSON but not an object
    name = f"not-object-{type(document).__name__}"
    arn = aws.client("stepfunctions").start_execution(
        stateMachineArn=aws.output("SwitchStateMachineArn"), name=name, input=json.dumps(document)
    )["executionArn"]

    # When it runs, Then the first state refuses it as InvalidInput naming `$` (the machine
    # does not fail with States.Runtime trying to add the error to a non-object)
    run = finished(aws, arn)
    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert run.cause is not None
    assert run.cause.startswith("$: must be an object"), run.cause
    assert run.states == ["ValidateInput", "ExplainRefusal", "InputRefused"]
    _nothing_changed(aws, fleet, run)


def test_a_target_group_of_another_load_balancer_is_refused(
    aws: Emulator, fleets: ec2_helpers.Fleets, fleet: Ec2Fleet
) -> None:
    # Given the green group of another fleet's load balancer (it exists, and is attached)
    other = fleets.build(with_http=False)
    request = fleet.request(greenTargetGroupArn=other.green_arn)

    # When the switch runs, Then it is refused naming the field, and nothing changed
    run = run_switch(aws, request, name="bad-foreign-group")
    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert run.cause is not None
    assert run.cause.startswith("greenTargetGroupArn: "), run.cause
    assert "not to the routes' load balancer" in run.cause
    _nothing_changed(aws, fleet, run)


def test_a_test_listener_that_is_a_production_listener_is_refused(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    request = fleet.request()
    request["testTraffic"]["listenerArn"] = fleet.listener_arn
    run = run_switch(aws, request, name="bad-test-listener")
    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert run.cause is not None
    assert run.cause.startswith("testTraffic.listenerArn: is a production listener"), run.cause
    _nothing_changed(aws, fleet, run)


@pytest.mark.parametrize(
    ("rule_weights", "message"),
    [
        ({"blue": 50, "green": 50}, "splits traffic"),
        ({"blue": 0, "green": 100}, "sends its traffic to"),
    ],
    ids=["rule-split", "rule-already-on-green"],
)
def test_routes_not_all_on_one_colour_are_refused_before_anything_moves(
    aws: Emulator, fleet: Ec2Fleet, rule_weights: dict[str, int], message: str
) -> None:
    # Given the /api rule left half switched, or already on green, by someone else
    arns = {"blue": fleet.blue_arn, "green": fleet.green_arn}
    groups = [{"TargetGroupArn": arns[c], "Weight": w} for c, w in rule_weights.items()]
    aws.client("elbv2").modify_rule(
        RuleArn=fleet.rule_arn,
        Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}],
    )

    # When a switch of the listener and the rule runs
    run = run_switch(aws, fleet.request(), name=f"split-{rule_weights['green']}")

    # Then it is refused naming the rule (its first step would move /api traffic back to
    # blue), and nothing changed
    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert run.cause is not None
    assert run.cause.startswith(f"rules[0]: {fleet.rule_arn}" if "split" in message else "rules[0]")
    assert message in run.cause
    assert production(aws, fleet) == {"listener": ALL_ON_BLUE, "rule": rule_weights}
    assert record(aws, run.name) is None
    assert locks_and_guards(aws, fleet) == []


def test_a_guarding_alarm_already_firing_refuses_the_switch_unless_overridden(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given a guarding alarm already in ALARM
    aws.client("cloudwatch").set_alarm_state(
        AlarmName=fleet.alarms[0], StateValue="ALARM", StateReason="5xx burst"
    )

    # When a switch runs, Then it is refused naming the alarm, and nothing changed
    run = run_switch(aws, fleet.request(), name="alarm-at-start")
    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert run.cause is not None
    assert f"{fleet.alarms[0]} already in ALARM" in run.cause
    assert "allowStartInAlarm" in run.cause
    _nothing_changed(aws, fleet, run)

    # And with the explicit override it starts, and the firing alarm stops it at its gate
    run = run_switch(aws, fleet.request(allowStartInAlarm=True), name="alarm-at-start-ok")
    assert run.error == "SwitchRolledBack.GateFailed"


def test_a_second_switch_on_a_locked_listener_fails_fast_naming_the_holder(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given a first switch holding the fleet's listeners while it waits for approval
    asked = threading.Event()
    tokens: list[str] = []

    def waiting(detail: dict[str, Any]) -> None:
        tokens.append(approval_token(aws, detail["executionArn"]))
        asked.set()

    on_announcement(aws, "Switch Approval Needed", waiting)
    first = start_switch(
        aws, fleet.request(approval={"required": True, "timeoutSeconds": 600}), "holder-1"
    )
    assert asked.wait(timeout=10), "the first switch never asked for approval"

    # When a second switch on the same listeners runs
    second = run_switch(aws, fleet.request(strategy={"type": "all-at-once"}), name="second-1")

    # Then it failed fast, before changing anything, naming the holder
    assert (second.status, second.error) == ("FAILED", "LockHeld")
    assert second.cause is not None
    assert "is locked by deployment holder-1" in second.cause
    assert "execution:bluegreen-switch:holder-1" in second.cause
    assert second.states[-2:] == ["ExplainLockHeld", "LockRefused"]
    assert record(aws, "second-1") is None
    assert detail_types(aws, "second-1") == []
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)

    # And the holder is unaffected: approved, it completes its switch
    aws.client("stepfunctions").send_task_success(taskToken=tokens[0], output="{}")
    holder = finished(aws, first)
    assert holder.status == "SUCCEEDED", holder.cause
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    assert locks_and_guards(aws, fleet) == []


# -- failures after Begin: restored and recorded -------------------------------------------------
def test_an_idle_group_that_never_gets_healthy_fails_after_the_health_timeout(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given green's instances failing their health checks
    for instance in fleet.green_instances:
        set_health(aws, fleet.green_arn, instance, "unhealthy")

    # When a switch that allows 60 s for health (a look every 15 s) runs
    request = fleet.request(healthCheck={"minHealthy": 2, "timeoutSeconds": 60, "pollSeconds": 15})
    run = run_switch(aws, request, name="unhealthy-1")

    # Then it looked 4 times, gave up, and traffic never moved
    assert run.states.count("CheckIdleHealth") == 4
    assert "ShiftTraffic" not in run.states
    assert_rolled_back(
        aws,
        fleet,
        calls,
        run,
        "CheckIdleHealth",
        "IdleGroupUnhealthy",
        "not healthy after 60 s",
        "0/2 healthy, need 2",
        fleet.green_instances[0],
    )


@pytest.mark.parametrize("failing", [1, 2], ids=["one-instance", "every-instance"])
def test_instances_failing_after_the_canary_step_stop_the_switch(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls, failing: int
) -> None:
    # Given green instances that start failing their health checks once green takes traffic
    sick = fleet.green_instances[-failing:]

    def fail_health(detail: dict[str, Any]) -> None:
        if detail["index"] == 0:
            for instance in sick:
                set_health(aws, fleet.green_arn, instance, "unhealthy")

    on_announcement(aws, "Switch Step", fail_health)

    # When a canary needing 2 healthy targets runs
    run = run_switch(aws, fleet.request(), name=f"sick-at-canary-{failing}")

    # Then the gate after the canary step failed on target health naming the instances,
    # traffic is restored, and no weight ever went to green once it had no healthy target
    # (assert_rolled_back checks every write against the health at that moment)
    saved = assert_rolled_back(
        aws,
        fleet,
        calls,
        run,
        "Gate",
        "GateFailed",
        "after step 1 (10%)",
        f"{2 - failing}/2 healthy, need 2",
        *sick,
    )
    gate = saved["steps"][-1]
    assert gate["phase"] == "gate"
    assert {v["check"]: v["outcome"] for v in gate["verdicts"]}["targetHealth"] == "FAILED"


def test_the_safety_monitor_sees_a_weight_sent_to_a_group_without_healthy_targets(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given green with no healthy target, and the health checks before the shift misled
    # into reporting it healthy (so the switch does what the monitor must catch)
    for instance in fleet.green_instances:
        set_health(aws, fleet.green_arn, instance, "unhealthy")

    def all_healthy(parsed: dict[str, Any]) -> None:
        for target in parsed["TargetHealthDescriptions"]:
            target["TargetHealth"] = {"State": "healthy"}

    for function in ("CheckHealthFunction", "ShiftFunction"):
        calls.tamper(Call(function, "elbv2", "DescribeTargetHealth"), all_healthy)

    # When the switch runs
    run = run_switch(aws, fleet.request(), name="monitor-1")

    # Then the monitor names the shift that sent 10 % to the dead group, and the gate (not
    # misled) rolled it back
    unsafe = calls.unsafe_writes(fleet)
    assert len(unsafe) == 2, unsafe  # the listener and the rule
    assert all(w.startswith("ShiftFunction -> ") for w in unsafe)
    assert run.error == "SwitchRolledBack.GateFailed"
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)


def test_a_failing_probe_through_the_test_listener_stops_the_switch(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given the new version's deep health check answering 503
    assert fleet.http is not None
    fleet.http.broken.add("v42")

    # When the switch runs
    run = run_switch(aws, fleet.request(), name="probe-1")

    # Then the probe failed before any production traffic moved, and all is restored
    assert "ShiftTraffic" not in run.states
    saved = assert_rolled_back(
        aws,
        fleet,
        calls,
        run,
        "TestTraffic",
        "ProbeFailed",
        "/health/deep: status 503, expected 200",
    )
    probes = saved["steps"][0]
    assert probes["phase"] == "test-traffic"
    assert [p["ok"] for p in probes["verdicts"][0]["details"]["probes"]] == [False, True]


def _fire_during_canary_bake(aws: Emulator, fleet: Ec2Fleet) -> None:
    """Set the first guarding alarm to ALARM when the switch announces its first step."""
    cloudwatch = aws.client("cloudwatch")

    def fire(detail: dict[str, Any]) -> None:
        if detail["index"] == 0:
            cloudwatch.set_alarm_state(
                AlarmName=fleet.alarms[0], StateValue="ALARM", StateReason="5xx above 10"
            )

    on_announcement(aws, "Switch Step", fire)


def test_an_alarm_during_the_canary_bake_rolls_back_at_once(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given a guarding alarm that fires while the canary step bakes (its state change
    # reaches the alarm rollback function through EventBridge)
    _fire_during_canary_bake(aws, fleet)

    # When the canary runs
    run = run_switch(aws, fleet.request(), name="alarm-1")

    # Then the alarm rollback restored traffic and stopped the execution, naming the alarm
    assert (run.status, run.error) == ("ABORTED", "AlarmRollback")
    assert run.cause == f"alarm {fleet.alarms[0]} in ALARM: 5xx above 10"
    assert "Finish" not in run.states
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    assert on_test_listener(aws, fleet) == {"blue": 0, "green": 1}
    # and recorded the rollback once, with the alarm as the cause
    saved = record(aws, run.name)
    assert saved is not None
    assert saved["status"] == "ROLLED_BACK"
    assert (saved["outcome"]["failedAt"], saved["outcome"]["cause"]) == ("Alarm", run.cause)
    assert [(s["phase"], s.get("percent")) for s in saved["steps"]] == [
        ("test-traffic", None),
        ("shift", 10),
    ]
    assert locks_and_guards(aws, fleet) == []
    assert detail_types(aws, run.name) == ["Switch Started", "Switch Step", "Switch Rolled Back"]
    assert calls.unsafe_writes(fleet) == []


@pytest.fixture
def alarm_events_lost(aws: Emulator) -> Iterator[None]:
    """The alarm rollback's EventBridge rule disabled: alarm changes reach nobody."""
    events = aws.client("events")
    rule = f"{aws.stack_name}-alarm-rollback"
    events.disable_rule(Name=rule)
    yield
    events.enable_rule(Name=rule)


@pytest.mark.usefixtures("alarm_events_lost")
def test_an_alarm_whose_event_is_lost_is_caught_by_the_gate(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given a guarding alarm that fires during the canary bake, and its state change lost
    _fire_during_canary_bake(aws, fleet)

    # When the canary runs
    run = run_switch(aws, fleet.request(), name="alarm-lost-1")

    # Then its own gate failed naming the alarm, after the 10% step and never at 100%
    saved = assert_rolled_back(
        aws,
        fleet,
        calls,
        run,
        "Gate",
        "GateFailed",
        "after step 1 (10%)",
        f"{fleet.alarms[0]} is ALARM (5xx above 10)",
    )
    assert [(s["phase"], s.get("percent")) for s in saved["steps"]] == [
        ("test-traffic", None),
        ("shift", 10),
        ("gate", 10),
    ]


def _put_green_metrics(aws: Emulator, fleet: Ec2Fleet, metrics: dict[str, list[float]]) -> None:
    """Datapoints on AWS/ApplicationELB for the green target group, in the middle of the
    canary's coming 300 s bake (on the emulator's clock, which the machine's gates read)."""
    dimensions = [
        {"Name": "TargetGroup", "Value": fleet.green_arn.split(":")[-1]},
        {"Name": "LoadBalancer", "Value": fleet.load_balancer_arn.split("loadbalancer/")[1]},
    ]
    when = datetime.fromtimestamp(aws.clock.epoch() + 150, UTC)
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {"MetricName": name, "Dimensions": dimensions, "Timestamp": when, "Value": value}
            for name, values in metrics.items()
            for value in values
        ],
    )


METRICS = {
    "5xx-ratio": (
        {"id": "green-5xx", "type": "target5xxRatio", "threshold": 0.05},
        {"HTTPCode_Target_5XX_Count": [3000.0], "RequestCount": [10000.0]},
        "green-5xx = 0.3 over the last 300s (GreaterThanThreshold 0.05 fails)",
    ),
    "p99-latency": (
        {"id": "green-p99", "type": "p99Latency", "threshold": 1.0},
        {"TargetResponseTime": [0.1] * 50 + [2.5] * 2},
        "green-p99 = 2.5 over the last 300s (GreaterThanThreshold 1 fails)",
    ),
}


@pytest.mark.parametrize("case", list(METRICS))
def test_a_metric_over_its_threshold_stops_the_switch(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls, case: str
) -> None:
    check, datapoints, explained = METRICS[case]
    # Given the green target group's metrics over the check's threshold
    _put_green_metrics(aws, fleet, datapoints)

    # When a canary gated on that metric runs
    run = run_switch(aws, fleet.request(metricChecks=[check]), name=f"metric-{case}")

    # Then the gate after the canary step failed naming the metric and its value
    saved = assert_rolled_back(
        aws, fleet, calls, run, "Gate", "GateFailed", "after step 1 (10%)", explained
    )
    verdicts = {v["check"]: v for v in saved["steps"][-1]["verdicts"]}
    assert verdicts[f"metric:{check['id']}"]["outcome"] == "FAILED"


def test_metrics_under_their_thresholds_let_the_switch_through(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given green's 5xx ratio and p99 latency well under the thresholds
    _put_green_metrics(
        aws,
        fleet,
        {
            "HTTPCode_Target_5XX_Count": [1.0],
            "RequestCount": [1000.0],
            "TargetResponseTime": [0.1] * 99 + [0.4],
        },
    )
    checks = [check for check, _, _ in METRICS.values()]

    # When a canary gated on both runs
    run = run_switch(aws, fleet.request(metricChecks=checks), name="metrics-ok")

    # Then it succeeded, and each gate recorded both metrics as passing, with their values
    assert run.status == "SUCCEEDED", run.cause
    saved = record(aws, run.name)
    assert saved is not None
    gates = [s for s in saved["steps"] if s["phase"] == "gate"]
    for gate in gates:
        verdicts = {v["check"]: v for v in gate["verdicts"]}
        assert verdicts["metric:green-5xx"]["outcome"] == "PASSED"
        # (the ALB counts the test probes too: 1 of 1,002 requests)
        assert verdicts["metric:green-5xx"]["details"]["value"] == pytest.approx(0.001, rel=0.01)
        assert verdicts["metric:green-p99"]["outcome"] == "PASSED"


def _approver(aws: Emulator, answer: dict[str, str] | None) -> None:
    sfn = aws.client("stepfunctions")

    def decide(detail: dict[str, Any]) -> None:
        if answer is not None:
            sfn.send_task_failure(taskToken=approval_token(aws, detail["executionArn"]), **answer)

    on_announcement(aws, "Switch Approval Needed", decide)


def test_a_rejected_approval_restores_the_test_listener_and_ends_the_switch(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given an approver who rejects the switch with a reason
    _approver(aws, {"error": "Rejected", "cause": "release notes missing"})

    # When a switch needing approval runs
    request = fleet.request(approval={"required": True, "timeoutSeconds": 600})
    run = run_switch(aws, request, name="rejected-1")

    # Then no production traffic moved, and the cause gives the approver's reason
    assert "ShiftTraffic" not in run.states
    saved = assert_rolled_back(
        aws,
        fleet,
        calls,
        run,
        "WaitForApproval",
        "Rejected",
        "release notes missing",
    )
    assert saved["approval"]["state"] == "REJECTED"


def test_an_approval_nobody_gives_times_out_and_ends_the_switch(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given nobody answering, and a 600 s approval timeout
    request = fleet.request(approval={"required": True, "timeoutSeconds": 600})

    # When the switch runs, and 600 s pass once the approval was asked
    approver = aws.function("RequestApprovalFunction").name
    before = sum(i.function == approver for i in aws.runtime.history)
    execution = ec2_helpers.start_switch(aws, request, name="timeout-1")
    asked = threading.Event()
    for _ in range(4000):  # a bound on real time, not a verdict: what matters is the ask
        if sum(i.function == approver for i in aws.runtime.history) > before:
            break
        asked.wait(0.005)
    else:
        raise AssertionError("the approval was never asked")
    aws.clock.advance(600)
    run = ec2_helpers.finished(aws, execution)

    # Then it timed out waiting for approval, and the cause and the record say so
    assert "ShiftTraffic" not in run.states
    saved = assert_rolled_back(
        aws,
        fleet,
        calls,
        run,
        "WaitForApproval",
        "States.Timeout",
        "no approval within approval.timeoutSeconds",
    )
    assert saved["approval"]["state"] == "TIMED_OUT"


def test_weights_that_read_back_wrong_stop_the_switch(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given an ALB whose /api rule reads back 100/0 after the shift wrote 90/10 (another
    # tool fighting over the rule, or a write that did not take)
    def stale(parsed: dict[str, Any]) -> None:
        for group in parsed["Rules"][0]["Actions"][0]["ForwardConfig"]["TargetGroups"]:
            group["Weight"] = 100 if group["TargetGroupArn"] == fleet.blue_arn else 0

    calls.tamper(Call("ShiftFunction", "elbv2", "DescribeRules"), stale)

    # When the switch runs
    run = run_switch(aws, fleet.request(), name="readback-1")

    # Then the shift failed naming the rule and both weights, and traffic is restored
    assert_rolled_back(
        aws,
        fleet,
        calls,
        run,
        "ShiftTraffic",
        "RouteMismatch",
        f"rule {fleet.rule_arn}: read back weights",
        json.dumps({fleet.blue_arn: 90, fleet.green_arn: 10}).replace('"', "'"),
    )


def test_a_rollback_that_keeps_failing_is_announced_for_a_person(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given a canary whose first gate errs (10 % on green), and the /api rule refusing every
    # write of the machine's settle and of the reaper that takes over once the execution
    # failed (permissions removed by hand, say)
    calls.fail(Call("GateFunction", "cloudwatch", "DescribeAlarms"))
    calls.fail(Call("SettleFunction", "elbv2", "ModifyRule"), nth=EVERY)
    calls.fail(Call("ReaperFunction", "elbv2", "ModifyRule"), nth=EVERY)

    # When the switch runs
    run = run_switch(aws, fleet.request(), name="rollback-fails-1")

    # Then the settle was retried, gave up, and the execution says traffic may not match
    assert (run.status, run.error) == ("FAILED", "SettleFailed")
    assert run.cause is not None
    assert "traffic may not match the record" in run.cause
    assert calls.counts()[Call("SettleFunction", "elbv2", "ModifyRule")] >= 4
    assert calls.counts()[Call("ReaperFunction", "elbv2", "ModifyRule")] >= 1
    assert run.states[-3:] == ["RollBack", "AnnounceSettleFailed", "SettleFailed"]
    # and a `Switch Failed` event tells subscribers (on-call) where and why
    (failed,) = [e for e in announced(aws, run.name) if e["detail-type"] == "Switch Failed"]
    assert failed["detail"]["platform"] == "EC2"
    assert list(failed["detail"]["failed"]) == ["Gate"]
    assert failed["detail"]["settleError"] == "ClientError"
    assert "ModifyRule" in failed["detail"]["settleCause"]
    # and the record says the ending was claimed, not that it happened: the rule is still
    # split and the lock stays, so no second switch piles on
    saved = record(aws, run.name)
    assert saved is not None
    assert (saved["status"], saved["settling"]["intent"]) == ("SETTLING", "ROLLED_BACK")
    assert production(aws, fleet)["rule"] == {"blue": 90, "green": 10}
    assert locks_and_guards(aws, fleet) != []


def test_a_finish_that_keeps_failing_after_recording_success_leaves_traffic_on_green(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given EventBridge refusing every `Switch Succeeded` the settle tries to put (after
    # the record already says SUCCEEDED)
    calls.fail(Call("SettleFunction", "events", "PutEvents"), nth=EVERY)

    # When a canary runs through its last gate
    run = run_switch(aws, fleet.request(), name="finish-fails-1")

    # Then the settle was retried (each retry finishing what was left), and nothing undid
    # the finished switch: traffic stays on green, the record says SUCCEEDED, the lock is
    # free, and the execution says the ending could not be announced
    assert calls.counts()[Call("SettleFunction", "events", "PutEvents")] == 4
    assert (run.status, run.error) == ("FAILED", "SettleFailed")
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    saved = record(aws, run.name)
    assert saved is not None
    assert saved["status"] == "SUCCEEDED"
    assert saved["outcome"]["observed"]["serving"] == "to"
    assert locks_and_guards(aws, fleet) == []
    (failed,) = [e for e in announced(aws, run.name) if e["detail-type"] == "Switch Failed"]
    assert failed["detail"]["settleError"] == "ClientError"
