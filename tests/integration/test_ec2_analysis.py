"""Comparative analysis as an EC2 gate, on the emulated AWS: green judged against blue
over each step's window, from what the emulated ALB published for the traffic it served.

Users send requests through the production listener during every bake (`user_traffic`:
the emulated ALB serves the requests a wait stands for, split by the weights, and
publishes the per-target-group metrics on the emulator's clock). The fleet's colours
answer as the test tells them (`FleetHttp.degrade`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet
from bluegreen_emulator.fixtures.traffic import user_traffic
from tests.integration import ec2_helpers
from tests.integration.ec2_helpers import (
    ALL_ON_BLUE,
    ALL_ON_GREEN,
    announced,
    everything_on,
    fresh_listeners,
    production,
    record,
    run_switch,
)

pytestmark = pytest.mark.integration

fleets = ec2_helpers.fleets_fixture
fleet = ec2_helpers.fleet_fixture


@pytest.fixture(scope="module")
def shared_aws() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def aws(shared_aws: Emulator) -> Iterator[Emulator]:
    with fresh_listeners(shared_aws):
        yield shared_aws


USERS_PER_SECOND = 150
ANALYSIS = {"signals": ["errorRate", "latency"]}


def canary(fleet: Ec2Fleet, bake: int = 300, **overrides: Any) -> dict[str, Any]:
    return fleet.request(
        strategy={"type": "canary", "percent": 10, "bakeSeconds": bake},
        analysis=ANALYSIS,
        **overrides,
    )


def gates(saved: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in saved["steps"] if s["phase"] == "gate"]


def verdict(gate: dict[str, Any], check: str) -> dict[str, Any]:
    return next(v for v in gate["verdicts"] if v["check"] == check)


def test_a_canary_serving_more_errors_than_blue_is_rolled_back_before_100_percent(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given users on the production listener, green failing 5% of its requests, blue 0.1%
    assert fleet.http is not None
    fleet.http.degrade("green", error_rate=0.05)
    fleet.http.degrade("blue", error_rate=0.001)

    # When a 10% canary gated on the comparative analysis runs
    with user_traffic(aws, fleet.listener_arn, USERS_PER_SECOND):
        run = run_switch(aws, canary(fleet), name="analysis-worse")

    # Then the gate after the canary step failed on the analysis, and green never got 100%
    assert run.status == "FAILED", run.cause
    assert run.error == "SwitchRolledBack.GateFailed"
    assert run.cause is not None
    assert run.cause.startswith("Gate: GateFailed: after step 1 (10%): comparativeAnalysis: ")
    assert "worse beyond tolerance" in run.cause
    assert "ShiftTraffic" in run.states and run.states.count("ShiftTraffic") == 1
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    # and the record keeps the figures of both colours over the step's window
    saved = record(aws, run.name)
    assert saved is not None and saved["status"] == "ROLLED_BACK"
    (gate,) = gates(saved)
    analysis = verdict(gate, "comparativeAnalysis")
    assert analysis["outcome"] == "FAILED"
    error_rate = next(s for s in analysis["details"]["signals"] if s["signal"] == "errorRate")
    assert error_rate["outcome"] == "FAILED"
    assert error_rate["test"] == "Fisher exact test (one-sided)"
    assert error_rate["green"]["ratio"] == pytest.approx(0.05, abs=0.002)
    assert error_rate["blue"]["ratio"] == pytest.approx(0.001, abs=0.0005)
    assert error_rate["samples"]["blue"] == pytest.approx(
        9 * error_rate["samples"]["green"], rel=0.05
    )
    assert error_rate["pValue"] < 0.001
    assert analysis["details"]["window"]["periods"] >= 4
    # and the gate's event carries the same figures
    (event,) = [e["detail"] for e in announced(aws, run.name) if e["detail-type"] == "Switch Gate"]
    signals = next(v for v in event["verdicts"] if v["check"] == "comparativeAnalysis")["signals"]
    assert signals[0]["green"]["errors"] == error_rate["green"]["errors"]


def test_equal_colours_go_live(aws: Emulator, fleet: Ec2Fleet) -> None:
    # Given users on the production listener and two colours that answer alike
    # When a canary baking eight minutes (enough whole periods to judge latency) runs
    with user_traffic(aws, fleet.listener_arn, USERS_PER_SECOND):
        run = run_switch(aws, canary(fleet, bake=480), name="analysis-equal")

    # Then it went live, the analysis passing at the canary step
    assert run.status == "SUCCEEDED", run.cause
    assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
    saved = record(aws, run.name)
    assert saved is not None
    first, last = gates(saved)
    analysis = verdict(first, "comparativeAnalysis")
    assert analysis["outcome"] == "PASSED", analysis["reason"]
    assert {s["signal"]: s["outcome"] for s in analysis["details"]["signals"]} == {
        "errorRate": "PASSED",
        "latencyP50": "PASSED",
        "latencyP99": "PASSED",
    }
    # and at 100% (where blue serves nothing to compare with) it is not judged
    assert "comparativeAnalysis" not in {v["check"] for v in last["verdicts"]}


@pytest.mark.parametrize("then", ["fail", "pass"])
def test_a_canary_without_traffic_ends_by_the_requests_inconclusive_rule(
    aws: Emulator, fleet: Ec2Fleet, then: str
) -> None:
    # Given no users at all (only the switch's own probes reach the load balancer)
    request = canary(
        fleet, whenInconclusive={"extendSeconds": 120, "maxExtensions": 2, "then": then}
    )

    # When the canary runs
    run = run_switch(aws, request, name=f"analysis-idle-{then}")

    # Then the gate could not decide, extended the bake twice, then applied the rule
    assert run.states.count("ExtendBake") == 2, run.states
    saved = record(aws, run.name)
    assert saved is not None
    first = gates(saved)[:3]
    assert [(g["decision"], g["extension"]) for g in first] == [
        ("extend", 0),
        ("extend", 1),
        ("fail", 2) if then == "fail" else ("pass", 2),
    ]
    analysis = verdict(first[-1], "comparativeAnalysis")
    assert analysis["outcome"] == "INCONCLUSIVE"
    assert "no request reached" in analysis["reason"]
    if then == "fail":
        assert run.status == "FAILED"
        assert run.error == "SwitchRolledBack.GateInconclusive"
        assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    else:
        assert run.status == "SUCCEEDED", run.cause
        assert first[-1]["outcome"] == "PASSED"
        assert production(aws, fleet) == everything_on(ALL_ON_GREEN)


def test_a_failing_production_probe_after_a_shift_rolls_back(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given green's deep health check failing, and production probes on that path
    assert fleet.http is not None
    request = fleet.request(
        strategy={"type": "all-at-once"},
        testTraffic=None,
        productionTraffic={"probes": [{"path": "/health/deep", "expectStatus": 200}]},
    )
    fleet.http.broken.add("v42")

    # When the switch moves all traffic to green
    run = run_switch(aws, request, name="production-probe")

    # Then the probe through the production listener right after the shift failed, and
    # traffic went back to blue
    assert run.status == "FAILED"
    assert run.error == "SwitchRolledBack.ProbeFailed"
    assert run.cause is not None
    assert "after step 1 (100%)" in run.cause and "status 503, expected 200" in run.cause
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    saved = record(aws, run.name)
    assert saved is not None
    shift = next(s for s in saved["steps"] if s["phase"] == "shift")
    (probes,) = shift["verdicts"]
    assert probes["check"] == "productionProbes"
    assert probes["outcome"] == "FAILED"
    assert {p["status"] for p in probes["details"]["probes"]} == {503}
