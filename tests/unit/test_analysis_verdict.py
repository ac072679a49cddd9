"""One vocabulary for the whole check engine: how INCONCLUSIVE folds with the others, and
that no contract reports it as a success."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.checks import CheckResult, Outcome, verdict
from bluegreen.hooks import codedeploy

pytestmark = pytest.mark.unit

PASSED = CheckResult.passed("targetHealth", "2/2 healthy")
FAILED = CheckResult.failed("httpProbes", "/health: status 500, expected 200")
PENDING = CheckResult.pending("taskSetSteady", "1/2 running")
INCONCLUSIVE = CheckResult.inconclusive(
    "comparativeAnalysis", "green 5xx 0% (0/37) vs blue 0.3% (1/333): too few requests to pass"
)


@pytest.mark.parametrize(
    ("results", "outcome"),
    [
        ([PASSED, INCONCLUSIVE, FAILED, PENDING], Outcome.FAILED),
        ([PASSED, INCONCLUSIVE, PENDING], Outcome.PENDING),
        ([PASSED, INCONCLUSIVE], Outcome.INCONCLUSIVE),
        ([INCONCLUSIVE], Outcome.INCONCLUSIVE),
        ([PASSED, PASSED], Outcome.PASSED),
    ],
)
def test_failed_over_pending_over_inconclusive_over_passed(
    results: list[CheckResult], outcome: Outcome
) -> None:
    assert verdict(results)[0] is outcome


def test_an_inconclusive_check_is_named_in_the_reason() -> None:
    # Given a passing and an inconclusive check, When folded
    outcome, reason = verdict([PASSED, INCONCLUSIVE])

    # Then the reason says which could not decide and why
    assert outcome is Outcome.INCONCLUSIVE
    assert reason == (
        "comparativeAnalysis: green 5xx 0% (0/37) vs blue 0.3% (1/333): too few requests to pass"
    )


def test_while_waiting_the_reason_also_names_what_more_data_may_settle() -> None:
    _, reason = verdict([PENDING, INCONCLUSIVE])
    assert reason == f"taskSetSteady: 1/2 running; comparativeAnalysis: {INCONCLUSIVE.reason}"


def test_a_record_keeps_the_figures() -> None:
    result = CheckResult.inconclusive("metric:p99", "no datapoint", datapoints=0)
    assert result.as_dict() == {
        "check": "metric:p99",
        "outcome": "INCONCLUSIVE",
        "reason": "no datapoint",
    }
    assert result.as_record()["details"] == {"datapoints": 0}


def test_a_codedeploy_hook_reports_inconclusive_as_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a hook whose checks end inconclusive
    from tests.unit.test_hook_codedeploy import EVENT, SANDBOX, deps, statuses
    from tests.unit.test_hook_fakes import FakeClients, FakeContext

    SANDBOX.clear()
    monkeypatch.setattr(codedeploy, "_check", lambda *_: verdict([PASSED, INCONCLUSIVE]))
    clients = FakeClients()

    # When CodeDeploy invokes it
    answer: Any = codedeploy.answer_codedeploy_hook(EVENT, FakeContext(), deps(clients))

    # Then CodeDeploy is told Failed (it accepts only Succeeded or Failed), with the reason
    assert statuses(clients) == ["Failed"]
    assert answer["reason"] == verdict([INCONCLUSIVE])[1]
    assert answer["status"] == "Failed"
