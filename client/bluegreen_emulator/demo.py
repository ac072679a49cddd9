"""`make demo`: the whole product on an emulated AWS account, in under a minute.

1. deploys template.yaml (functions, state machine, table, rules) into moto;
2. deploys the example EC2 fleet from examples/ec2-fleet: ALB, production listener +
   /api/* rule, test listener, blue (v41, live) and green (v42, idle) target groups with
   their Auto Scaling groups' instances, alarms per colour;
3. switch 1: a 10% canary that probes green through the test listener, bakes, passes its
   gates and moves all traffic to green;
4. switch 2: the next release (v43 on blue) as a canary; during the bake blue's 5xx alarm
   fires and traffic goes back to where it was, verified by read-back;
5. switches 3-5 on the example ECS service (examples/ecs-service), released by CodeDeploy
   and by ECS-native blue/green (demo_ecs.py);
6. switch 6: a canary (v44) that errs more than the live colour, judged by the
   comparative analysis from the ALB's per-target-group metrics of users' requests, and
   rolled back at its first gate.

Waits run on the emulator clock: a 300 s bake takes 300 x scale real seconds.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .core.emulator import Emulator
from .demo_ecs import ecs_switches
from .fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet
from .fixtures.traffic import user_traffic

WIDTH = 78


class Timeline:
    """Collects the stack's events as they happen, stamped with emulated time.

    Events arrive on the threads that put them (inside functions); lines are queued and
    printed by the main thread (`drain`).
    """

    def __init__(self, aws: Emulator, fleet: Ec2Fleet, out: Callable[[str], None]) -> None:
        self.aws = aws
        self.fleet = fleet
        self.lines: queue.Queue[str] = queue.Queue()
        self.print = out
        self.origin = time.monotonic()
        self.origin_waited = 0.0
        self.names = {fleet.blue_arn: "blue", fleet.green_arn: "green"}

    def start(self) -> None:
        self.origin = time.monotonic()
        self.origin_waited = self.aws.clock.waited
        while not self.lines.empty():  # each switch's lines under its own header only
            self.lines.get()

    def out(self, line: str) -> None:
        self.lines.put(line)

    def drain(self) -> None:
        while not self.lines.empty():
            self.print(self.lines.get())

    def stamp(self) -> str:
        # emulated time = the waits the machine asked for + the real time spent outside them
        waited = self.aws.clock.waited - self.origin_waited
        real = time.monotonic() - self.origin
        seconds = int(waited + max(0.0, real - waited * self.aws.clock.scale))
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    def __call__(self, event: dict[str, Any]) -> None:
        kind, detail = event["detail-type"], event["detail"]
        if event["source"] == "aws.cloudwatch":
            state = detail["state"]
            self.out(
                f"  {self.stamp()}  alarm       {detail['alarmName']} -> {state['value']}: {state['reason']}"
            )
            return
        if detail.get("platform") == "ECS":
            text = self._ecs_line(kind, detail)
            if text:
                self.out(f"  {self.stamp()}  {text}")
            return
        line = {
            "Switch Started": lambda: (
                f"started     {self.names.get(detail['from'], '?')} -> {self.names.get(detail['to'], '?')}, "
                f"steps {' -> '.join(f'{p}%' for p in detail['steps'])}, by {detail['requestedBy']}"
            ),
            "Switch Step": lambda: (
                f"step {detail['index'] + 1}      {self._weights(detail['weights'])}  (read back ok)"
            ),
            "Switch Approval Needed": lambda: "approval    waiting for SendTaskSuccess",
            "Switch Succeeded": lambda: f"succeeded   live: {self.names.get(detail['live'], '?')}",
            "Switch Rolled Back": lambda: f"rolled back {detail['cause']}",
        }.get(kind)
        if line is not None:
            self.out(f"  {self.stamp()}  {line()}")

    def _ecs_line(self, kind: str, detail: dict[str, Any]) -> str | None:
        def short(arn: str) -> str:
            return arn.rsplit("/", 1)[-1] if arn else "?"

        if kind == "Switch Started":
            return f"started     {short(detail['from'])} -> {short(detail['to'])} via {detail['mode']}, by {detail['requestedBy']}"
        if kind == "Switch Step":
            events = detail.get("events") or {}
            done = [
                f"{name} {state.lower()}"
                for name, state in events.items()
                if state not in {"Pending"}
            ]
            return (
                f"platform    {detail['status']}: {', '.join(done[-3:]) or events.get('stage', '')}"
            )
        if kind == "Switch Succeeded":
            return f"succeeded   {detail.get('summary', '')}"
        if kind == "Switch Rolled Back":
            return f"rolled back {detail['cause']}"
        return None

    def _weights(self, weights: dict[str, int]) -> str:
        return " | ".join(
            f"{self.names.get(arn, arn)} {w:>3}%"
            for arn, w in sorted(weights.items(), key=lambda kv: self.names.get(kv[0], ""))
        )


def run_switch(
    aws: Emulator, timeline: Timeline, request: dict[str, Any], name: str
) -> dict[str, Any]:
    timeline.start()
    started = time.perf_counter()
    arn = aws.start_execution(aws.output("SwitchStateMachineArn"), request, name=name)
    while True:
        timeline.drain()
        try:
            described = aws.wait_for_execution(arn, timeout=0.1)
            break
        except TimeoutError:
            continue
    record = _settled_record(aws, name, timeline)
    history = aws.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)[
        "events"
    ]
    return {
        "status": described["status"],
        "error": described.get("error"),
        "cause": described.get("cause"),
        "transitions": sum(1 for e in history if e["type"].endswith("StateEntered")),
        "real_seconds": time.perf_counter() - started,
        "record": record,
    }


def _settled_record(aws: Emulator, deployment_id: str, timeline: Timeline) -> dict[str, Any]:
    """The record once its ending is written and announced: an execution stopped by an
    alarm ends before the alarm's settle has read traffic back, recorded and told it."""
    from bluegreen.store import ENDED, Deployments

    table = Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName"))
    deadline = time.monotonic() + 30
    while True:
        timeline.drain()
        record = table.get(deployment_id)
        told = record["status"] in ENDED and "announcedAt" in record
        if told or time.monotonic() > deadline:
            timeline.drain()  # the announcement is on the bus: its line goes here
            return record
        time.sleep(0.02)


def _weights_now(aws: Emulator, fleet: Ec2Fleet) -> str:
    from bluegreen.platforms.alb import forward_weights

    elbv2 = aws.client("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[fleet.listener_arn])["Listeners"][0][
        "DefaultActions"
    ]
    rule = elbv2.describe_rules(RuleArns=[fleet.rule_arn])["Rules"][0]["Actions"]
    names = {fleet.blue_arn: "blue", fleet.green_arn: "green"}

    def show(actions: list[dict[str, Any]]) -> str:
        return " | ".join(
            f"{names[a]} {w}%"
            for a, w in sorted(forward_weights(actions).items(), key=lambda kv: names[kv[0]])
        )

    return f"listener :80 [{show(listener)}]   rule /api/* [{show(rule)}]"


def main(
    argv: list[str] | None = None,
    out: Callable[[str], None] = print,
    after: Callable[[Emulator], None] | None = None,  # given the account, before it stops
) -> int:
    parser = argparse.ArgumentParser(prog="bluegreen_emulator demo")
    parser.add_argument(
        "--scale", type=float, default=0.01, help="real seconds per emulated second (default 0.01)"
    )
    args = parser.parse_args(argv)
    rule = "=" * WIDTH
    out(rule)
    out("bluegreen demo: blue/green switches on an emulated AWS account (moto, in-process)")
    out(rule)
    with Emulator(clock_scale=args.scale) as aws:
        functions = sorted({spec.logical_id for spec in aws.runtime.functions.values()})
        out(
            f"stack      {aws.stack_name}: {len(functions)} functions, state machine {aws.physical_id('SwitchStateMachine')},"
        )
        out(f"           table {aws.output('DeploymentsTableName')}")
        fleet = build_ec2_fleet(aws)
        out(
            "fleet      examples/ec2-fleet as stack shop-fleet: ALB shop-alb, listener :80 "
            "(+ rule /api/*), test listener :8080"
        )
        out(
            f"           blue  {len(fleet.blue_instances)} instances, v41, live     green {len(fleet.green_instances)} instances, v42, idle"
        )
        out(f"           alarms {', '.join(fleet.alarms)}")
        out(f"now        {_weights_now(aws, fleet)}")
        timeline = Timeline(aws, fleet, out)
        aws.on_event.append(timeline)

        out("")
        out("switch 1   release v42 to green: canary 10%, bake 300 s, probes via the test listener")
        first = run_switch(aws, timeline, fleet.request(), "release-v42")
        _summary(out, first, aws, fleet)

        out("")
        out(
            "switch 2   release v43 to blue: canary 10%, bake 300 s; the 5xx alarm fires during the bake"
        )
        fleet.versions[fleet.blue_arn] = "v43"
        request = fleet.request(
            blueTargetGroupArn=fleet.green_arn,
            greenTargetGroupArn=fleet.blue_arn,
            version="v43",
            alarms=fleet.alarms_of(fleet.blue_arn),  # the colour going live
        )
        request["testTraffic"]["probes"][1]["expectBody"] = "v43"
        _fire_alarm_during_first_bake(aws, request["alarms"][0])
        second = run_switch(aws, timeline, request, "release-v43")
        _summary(out, second, aws, fleet)

        ecs = ecs_switches(aws, timeline, out, run_switch)
        sixth = _analysis_part(aws, timeline, fleet, out)

        out("")
        out(rule)
        ok = (
            first["status"] == "SUCCEEDED"
            and second["record"]["status"] == "ROLLED_BACK"
            and ecs.ok
            and sixth["record"]["status"] == "ROLLED_BACK"
        )
        out(
            "result     "
            + (
                "EC2: v42 went live, v43 was rolled back by its alarm (traffic stayed on v42)\n"
                f"           {ecs.result()}\n"
                "           EC2: v44 erred more than v42 and was rolled back by the analysis"
                if ok
                else "UNEXPECTED: see the output above"
            )
        )
        out(rule)
        if after is not None:
            after(aws)
    return 0 if ok else 1


USERS_PER_SECOND = 150  # the users of the shop during the analysis switch's bakes


def _analysis_part(
    aws: Emulator, timeline: Timeline, fleet: Ec2Fleet, out: Callable[[str], None]
) -> dict[str, Any]:
    """Switch 6: a canary judged against the live colour by the comparative analysis."""
    assert fleet.http is not None
    out("")
    out(
        "switch 6   release v44 to blue: canary 10%, judged against green by the comparative "
        "analysis;"
    )
    out(f"           {USERS_PER_SECOND} users a second; v44 answers 5% of them with a 503")
    fleet.versions[fleet.blue_arn] = "v44"
    fleet.http.degrade("blue", error_rate=0.05)
    request = fleet.request(
        blueTargetGroupArn=fleet.green_arn,
        greenTargetGroupArn=fleet.blue_arn,
        version="v44",
        alarms=[],  # judged by the analysis alone
        testTraffic=None,
        analysis={"signals": ["errorRate"]},
    )
    try:
        with user_traffic(aws, fleet.listener_arn, USERS_PER_SECOND):
            sixth = run_switch(aws, timeline, request, "release-v44")
    finally:
        fleet.http.degrade("blue")
    _summary(out, sixth, aws, fleet)
    return sixth


def _fire_alarm_during_first_bake(aws: Emulator, alarm: str) -> None:
    fired = threading.Event()

    def on_event(event: dict[str, Any]) -> None:
        if (
            event["detail-type"] == "Switch Step"
            and event["detail"]["index"] == 0
            and not fired.is_set()
        ):
            fired.set()
            bake = 300 * aws.clock.scale
            timer = threading.Timer(
                max(bake / 3, 0.05),
                lambda: aws.client("cloudwatch").set_alarm_state(
                    AlarmName=alarm,
                    StateValue="ALARM",
                    StateReason="Threshold Crossed: 42 target 5xx in 1 minute (> 10)",
                ),
            )
            timer.daemon = True
            timer.start()

    aws.on_event.append(on_event)


def _summary(
    out: Callable[[str], None], run: dict[str, Any], aws: Emulator, fleet: Ec2Fleet
) -> None:
    record = run["record"]
    gates = [s for s in record["steps"] if s.get("phase") == "gate" and s.get("decision") == "pass"]
    out("  verdicts (from the deployment record):")
    for step in record["steps"]:
        for verdict in step.get("verdicts", []):
            where = {
                "test-traffic": "test traffic",
                "shift": f"shift {step.get('index', 0) + 1} ({step.get('percent')}%)",
            }.get(step["phase"], f"gate {step.get('index', 0) + 1} ({step.get('percent')}%)")
            mark = {"PASSED": "ok  ", "FAILED": "FAIL"}.get(verdict["outcome"], "wait")
            probes = (verdict.get("details") or {}).get("probes") or []
            detail = ", ".join(
                f"{p['url'].rsplit('/', 1)[-1] or '/'} {p['status']} {p['ms']}ms" for p in probes
            )
            out(f"    {mark} {where:<16} {verdict['check']:<12} {detail or verdict['reason']}")
    out(
        f"  => {record['status']}  ({run['transitions']} state transitions, "
        f"{run['real_seconds']:.1f} s real, {len(gates)} gate(s) passed)"
    )
    if record["status"] != "SUCCEEDED":
        outcome = record.get("outcome", {})
        out(f"     cause: {outcome.get('cause') or run['cause']}")
    out(f"     now  {_weights_now(aws, fleet)}")


if __name__ == "__main__":
    sys.exit(main())
