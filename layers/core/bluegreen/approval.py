"""An approver's answer to a switch waiting for approval, as it travels and as it is kept.

The switch waits in a `.waitForTaskToken` task; the token stays in the execution (never on
the bus), and only the stack's approver role may answer it (the CI role that started the
switch may not: template.yaml). The answer is

- an approval: `SendTaskSuccess(output=answer(APPROVED, ...))`; the machine hands it to the
  first traffic step, which keeps it in the record before any traffic moves;
- a rejection: `SendTaskFailure(error=REJECTED_ERROR, cause=rejection_cause(...))`; the
  switch rolls back and `settle` keeps it in the record.

Either way the record's `approval` says `{state, decision, by, name, comment, at}`: `by`
is the approver's identity as STS told their CLI (GetCallerIdentity), `name` what they
called themselves (`--as`), `comment` why. An answer is the approver's own statement:
what holds the boundary is IAM (only the approver role may answer); CloudTrail's
SendTaskSuccess/SendTaskFailure events name the caller as AWS saw it.

Answers are bounded and made printable before they are kept (they are shown in a
terminal); an answer that does not say who gave it is kept as `unknown`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from .errors import InvalidInput

APPROVED = "APPROVED"
REJECTED = "REJECTED"
REJECTED_ERROR = "SwitchRejected"  # the SendTaskFailure error of a rejection
MAX_COMMENT = 1024
MAX_IDENTITY = 2048  # an assumed-role session ARN is at most ~2 KB
MAX_AT = 64
UNKNOWN = "unknown (the answer did not say)"


def answer(decision: str, by: str, comment: str, at: str, name: str = "") -> dict[str, str]:
    """What an approver sends: the decision, who (STS's ARN), their name, why, when."""
    if decision not in (APPROVED, REJECTED):
        raise ValueError(f"unknown decision {decision!r}")
    return {
        "decision": decision,
        "by": _printable(by, MAX_IDENTITY),
        "name": _printable(name, MAX_IDENTITY),
        "comment": _printable(comment, MAX_COMMENT),
        "at": _printable(at, MAX_AT),
    }


def rejection_cause(given: Mapping[str, str]) -> str:
    """The SendTaskFailure cause of a rejection: a readable message (what the record's
    outcome and the execution say) and the answer itself."""
    who = given.get("name") or given.get("by") or "an approver"
    message = f"rejected by {who}" + (f": {given['comment']}" if given.get("comment") else "")
    return json.dumps({"errorMessage": message, "approval": dict(given)})


def kept(value: Any, decision: str) -> dict[str, str]:
    """What the record keeps of an answer given as `decision` (SendTaskSuccess approves,
    SendTaskFailure rejects): bounded, printable; an answer that claims the other
    decision is refused (`approval.decision`)."""
    source = value if isinstance(value, Mapping) else {}
    claimed = source.get("decision", decision)
    if claimed != decision:
        raise InvalidInput(
            "approval.decision",
            f"the answer says {str(claimed)[:40]!r} but was sent as "
            f"{'an approval (SendTaskSuccess)' if decision == APPROVED else 'a rejection'}: "
            "reject with SendTaskFailure",
        )
    by = source.get("by") or source.get("approvedBy")  # approvedBy: answers of older CLIs
    return {
        "state": decision,
        "decision": decision,
        "by": _printable(by, MAX_IDENTITY) or UNKNOWN,
        "name": _printable(source.get("name"), MAX_IDENTITY),
        "comment": _printable(source.get("comment"), MAX_COMMENT),
        "at": _printable(source.get("at"), MAX_AT),
    }


def rejection_of(failed_at: str, error: Mapping[str, Any]) -> dict[str, str] | None:
    """The rejection an approval wait ended with (a Catch's `{Error, Cause}`), or None
    when the wait ended otherwise (a timeout, an abort, a failure of its own)."""
    if not failed_at.startswith("WaitForApproval") or error.get("Error") != REJECTED_ERROR:
        return None
    try:
        cause = json.loads(str(error.get("Cause") or "{}"))
    except ValueError:
        cause = {}
    given = cause.get("approval") if isinstance(cause, Mapping) else None
    try:
        return kept(given, REJECTED)
    except InvalidInput:
        return kept({}, REJECTED)


def _printable(value: Any, limit: int) -> str:
    """Text safe to show in a terminal: control and format characters (ANSI escapes,
    bidirectional overrides) become U+FFFD; at most `limit` characters."""
    if not isinstance(value, str):
        return ""
    cleaned = "".join(
        "\ufffd" if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in value
    )
    return cleaned[:limit]
