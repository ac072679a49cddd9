"""An approver's answer, as the CLI sends it and as the record keeps it.

Pure (bluegreen.approval), plus the store's `record_approval` on moto's in-process
DynamoDB and `settle`'s claim carrying a rejection: who answered, when and why are kept,
bounded and printable; an answer that says the opposite of how it was sent is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bluegreen import approval
from bluegreen.errors import InvalidInput
from bluegreen.store import Deployments, OutcomeAlreadyDecided
from bluegreen.switch.endings import Ask
from tests.unit.moto_table import deployments_table

pytestmark = pytest.mark.unit

ALICE = "arn:aws:sts::123456789012:assumed-role/bluegreen-prod-ApproverRole-1A2B/alice"
AT = "2026-03-01T10:00:00+00:00"


def test_an_approval_is_kept_with_who_when_and_why() -> None:
    given = approval.answer(approval.APPROVED, ALICE, "canary looks good", AT, "alice")
    assert approval.kept(json.loads(json.dumps(given)), approval.APPROVED) == {
        "state": "APPROVED",
        "decision": "APPROVED",
        "by": ALICE,
        "name": "alice",
        "comment": "canary looks good",
        "at": AT,
    }


@pytest.mark.parametrize("answer", [{}, "yes", None, ["x"], {"by": 42}])
def test_an_answer_that_does_not_say_who_is_kept_as_unknown(answer: object) -> None:
    kept = approval.kept(answer, approval.APPROVED)
    assert (kept["decision"], kept["by"], kept["comment"]) == ("APPROVED", approval.UNKNOWN, "")


def test_an_answer_of_an_older_cli_keeps_its_approver() -> None:
    kept = approval.kept({"approvedBy": "lead@example.com"}, approval.APPROVED)
    assert kept["by"] == "lead@example.com"


def test_an_approval_sent_as_a_rejection_or_the_other_way_round_is_refused() -> None:
    rejected = approval.answer(approval.REJECTED, ALICE, "no", AT)
    with pytest.raises(InvalidInput) as refused:
        approval.kept(rejected, approval.APPROVED)
    assert refused.value.field == "approval.decision"
    assert "reject with SendTaskFailure" in refused.value.reason


def test_answers_are_bounded_and_printable() -> None:
    # Given a comment that tries to redraw the terminal and to reverse the text, and more
    # than a comment may hold
    sneaky = "\x1b[2J\x1b[Hall good\u202e" + "x" * 5000
    kept = approval.kept(
        approval.answer(approval.APPROVED, ALICE + "\n", sneaky, AT), approval.APPROVED
    )
    # Then what is kept cannot control a terminal and stays within its bound
    assert len(kept["comment"]) == approval.MAX_COMMENT
    assert kept["comment"].startswith("\ufffd[2J\ufffd[Hall good\ufffd")
    assert kept["by"] == ALICE + "\ufffd"
    assert all(c.isprintable() for c in kept["comment"])


def test_a_rejection_is_read_back_from_its_send_task_failure_cause() -> None:
    given = approval.answer(approval.REJECTED, ALICE, "p99 too high", AT, "alice")
    cause = approval.rejection_cause(given)
    # the cause's message is what the execution and the record's outcome show
    assert json.loads(cause)["errorMessage"] == "rejected by alice: p99 too high"
    error = {"Error": approval.REJECTED_ERROR, "Cause": cause}
    assert approval.rejection_of("WaitForApproval", error) == {
        "state": "REJECTED",
        "decision": "REJECTED",
        "by": ALICE,
        "name": "alice",
        "comment": "p99 too high",
        "at": AT,
    }


@pytest.mark.parametrize(
    ("failed_at", "error"),
    [
        ("WaitForApproval", {"Error": "States.Timeout", "Cause": ""}),
        ("WaitForApproval", {"Error": "Rejected", "Cause": "release notes missing"}),
        ("ShiftTraffic", {"Error": approval.REJECTED_ERROR, "Cause": "{}"}),
    ],
)
def test_only_a_rejection_of_the_approval_wait_is_an_answer(
    failed_at: str, error: dict[str, str]
) -> None:
    assert approval.rejection_of(failed_at, error) is None


def test_a_rejection_whose_cause_is_not_an_answer_is_kept_as_unknown() -> None:
    error = {"Error": approval.REJECTED_ERROR, "Cause": "nope, not json"}
    kept = approval.rejection_of("WaitForApproval", error)
    assert kept is not None and (kept["decision"], kept["by"]) == ("REJECTED", approval.UNKNOWN)


def test_settles_claim_carries_a_rejection_and_nothing_when_there_is_none() -> None:
    actor = {"kind": "execution", "executionArn": "arn:x"}
    answer = {"decision": "REJECTED", "by": ALICE}
    with_answer = Ask(intent="ROLLED_BACK", actor=actor, answer=answer)  # type: ignore[arg-type]
    assert with_answer.settling("now")["answer"] == answer
    assert "answer" not in Ask(intent="ROLLED_BACK", actor=actor).settling("now")  # type: ignore[arg-type]


# -- the store ---------------------------------------------------------------------------------
@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployments]:
    with deployments_table(monkeypatch, "deployments") as dynamodb:
        store = Deployments(dynamodb, "deployments", clock=lambda: 1_800_000_000.0)
        store.begin(
            deployment_id="d1",
            execution_arn="arn:aws:states:us-east-1:1:execution:switch:d1",
            lock_resources=["arn:listener"],
            alarms=[],
            record={"platform": "EC2"},
            guard={},
            lease_until=1_800_000_600,
        )
        store.set_field("d1", "approval", {"state": "WAITING", "since": "2027-01-15T08:00:00Z"})
        yield store


def test_the_record_keeps_the_answer_and_when_the_wait_began(store: Deployments) -> None:
    kept = approval.kept(approval.answer(approval.APPROVED, ALICE, "ok", AT), approval.APPROVED)
    store.record_approval("d1", kept)
    assert store.get("d1")["approval"] == {**kept, "since": "2027-01-15T08:00:00Z"}


def test_an_answer_after_the_switch_ended_is_not_written(store: Deployments) -> None:
    store.claim("d1", {"intent": "ROLLED_BACK", "actor": {"kind": "alarm"}})
    with pytest.raises(OutcomeAlreadyDecided, match="the approval came too late"):
        store.record_approval("d1", {"state": "APPROVED", "by": ALICE})
    assert store.get("d1")["approval"]["state"] == "WAITING"
