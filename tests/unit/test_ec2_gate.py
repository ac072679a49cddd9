"""The EC2 gate's decision: pass, fail, or extend the bake while undecided, within the
switch's budget of extensions; and what each gate entry of the record keeps."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bluegreen.checks.model import CheckResult
from bluegreen.switch import ec2_gate
from bluegreen.switch.ec2_gate import GateFailed, GateInconclusive, decide, recorded

pytestmark = pytest.mark.unit

NOW = "2026-01-01T00:10:00Z"
SHIFTED = "2026-01-01T00:00:00Z"


class Store:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def append_step(self, deployment_id: str, entry: dict[str, Any]) -> None:
        self.entries.append(entry)


def plan(max_extensions: int = 2, then: str = "fail") -> dict[str, Any]:
    policy = {"extendSeconds": 120, "maxExtensions": max_extensions, "then": then}
    return {
        "deploymentId": "d-1",
        "request": {"whenInconclusive": policy},
        "steps": [{"percent": 10, "last": False}, {"percent": 50, "last": False}],
    }


def deps() -> Any:
    events: list[Any] = []
    return SimpleNamespace(
        renew=lambda plan, seconds: None,
        store=Store(),
        announcer=SimpleNamespace(announce=lambda kind, detail: events.append(detail)),
        events=events,
    )


def judged(monkeypatch: pytest.MonkeyPatch, *results: CheckResult) -> None:
    monkeypatch.setattr(ec2_gate, "judge", lambda *args: list(results))


UNDECIDED = CheckResult.inconclusive("comparativeAnalysis", "too few requests to pass")
NO_DATA = CheckResult.inconclusive("metric:p99", "p99: no datapoint in the last 300s")
HOLDS = CheckResult.passed("alarms", "2 alarm(s) not in ALARM", alarms={"a": "OK", "b": "OK"})


def test_an_undecided_gate_extends_the_bake_from_the_same_shift(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a gate whose analysis cannot decide yet
    judged(monkeypatch, HOLDS, UNDECIDED)
    d = deps()
    # When the gate judges the first step
    cursor = decide(plan(), 0, {"shiftedAt": SHIFTED, "extensions": 0}, NOW, d)  # type: ignore[arg-type]
    # Then it asks for the same step again, after extendSeconds, the window still from the shift
    assert cursor == {"index": 0, "last": False, "inconclusive": True, "extensions": 1,
                      "extendSeconds": 120, "shiftedAt": SHIFTED}  # fmt: skip
    (entry,) = d.store.entries
    assert (entry["decision"], entry["outcome"]) == ("extend", "INCONCLUSIVE")
    assert entry["window"] == {
        "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-01-01T00:10:00+00:00",
    }
    # and the extended entry keeps each verdict's outcome and reason, not its figures
    assert entry["verdicts"][0] == {"check": "alarms", "outcome": "PASSED",
                                    "reason": "2 alarm(s) not in ALARM"}  # fmt: skip


def test_the_extension_budget_is_the_switchs_not_the_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a switch that already used its two extensions at an earlier step
    judged(monkeypatch, HOLDS)
    passed = decide(plan(), 0, {"shiftedAt": SHIFTED, "extensions": 2}, NOW, deps())  # type: ignore[arg-type]
    # Then passing a step carries the count on to the next one
    assert (passed["index"], passed["extensions"]) == (1, 2)
    # and the next undecided gate fails at once instead of extending again
    judged(monkeypatch, HOLDS, UNDECIDED)
    with pytest.raises(GateInconclusive) as failed:
        decide(plan(), 1, {"shiftedAt": SHIFTED, **passed}, NOW, deps())  # type: ignore[arg-type]
    assert str(failed.value).startswith(
        "after step 2 (50%), after 2 extension(s) of the bake: still INCONCLUSIVE: "
        "comparativeAnalysis: too few requests to pass"
    )


def test_then_pass_passes_only_a_gate_left_undecided_by_the_analysis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no extension left and then: pass
    policy = plan(max_extensions=0, then="pass")
    # When only the analysis is undecided, the gate passes, saying so
    judged(monkeypatch, HOLDS, UNDECIDED)
    d = deps()
    assert decide(policy, 0, {"shiftedAt": SHIFTED}, NOW, d)["index"] == 1  # type: ignore[arg-type]
    assert d.store.entries[0]["decision"] == "pass"
    assert d.events[0]["outcome"] == "PASSED"
    # but a metric with no data still fails the switch
    judged(monkeypatch, HOLDS, UNDECIDED, NO_DATA)
    with pytest.raises(GateInconclusive, match="metric:p99: p99: no datapoint"):
        decide(policy, 0, {"shiftedAt": SHIFTED}, NOW, deps())  # type: ignore[arg-type]


def test_a_failed_check_fails_the_gate_whatever_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    judged(monkeypatch, HOLDS, UNDECIDED, CheckResult.failed("alarms", "shop-5xx is ALARM"))
    with pytest.raises(GateFailed, match=r"^after step 1 \(10%\): alarms: shop-5xx is ALARM$"):
        decide(plan(max_extensions=10), 0, {"shiftedAt": SHIFTED}, NOW, deps())  # type: ignore[arg-type]


def test_a_recorded_verdict_keeps_what_explains_it_within_bounds() -> None:
    # Given probes where one of twelve answers failed, and alarms of which one fires
    answers = [{"url": f"http://x/{i}", "ok": i != 3, "status": 200 if i != 3 else 503,
                "ms": 10 + i, "reason": f"/{i}: ok"} for i in range(12)]  # fmt: skip
    probes = recorded(CheckResult.failed("productionProbes", "/3: status 503", probes=answers))
    alarms = recorded(
        CheckResult.failed("alarms", "b is ALARM (x)", alarms={"a": "OK", "b": "ALARM"})
    )
    long = recorded(CheckResult.failed("metric:m", "r" * 5000))
    # Then the failed answer, the counts and the firing alarm are kept, and reasons are cut
    assert probes["details"] == {"probes": [answers[3]], "answered": 12, "failedProbes": 1,
                                 "slowestMs": 21}  # fmt: skip
    assert alarms["details"] == {"alarms": {"b": "ALARM"}, "alarmsRead": 2}
    assert len(long["reason"]) == ec2_gate.RECORD_REASON_CHARS
    assert long["reason"].endswith("…")
