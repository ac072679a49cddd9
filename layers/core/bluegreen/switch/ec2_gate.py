"""The EC2 switch's checks: which checks of the engine (`bluegreen.checks`) run at each
task, with which inputs, and what the gate decides from them.

- `idle_health`: the idle (green) group's healthy targets (CheckIdleHealth, ShiftTraffic,
  Gate);
- `test_probes`: the request's probes through the test listener (TestTraffic);
- `production_probes`: its production probes through the production listeners, after
  every shift and at every gate;
- `judge`: the gate's checks over the step's window (from the shift to now): guarding
  alarms, target health, metric thresholds, the comparative analysis of green against
  blue, the production probes and the synthetic traffic's error count;
- `decide`: the gate: judge, record every verdict with its figures, announce, then pass,
  extend the bake (a gate that cannot decide yet), or fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .. import announce
from ..checks import Colours, Outcome, apply_inconclusive_rule, comparative_analysis, verdict
from ..checks.alarms import alarms_check
from ..checks.analysis_config import parse_analysis_config
from ..checks.http import PinnedTransport
from ..checks.model import CheckResult
from ..checks.probes import (
    PRODUCTION_PROBES,
    Probe,
    ProbeRun,
    listener_bases,
    probe_base,
    run_probes,
)
from ..checks.reach import load_balancer_of_listener
from ..checks.targets import group_health
from ..checks.thresholds import metric_threshold
from ..checks.traffic import synthetic_traffic
from ..contracts import Plan
from ..errors import BlueGreenError
from ..platforms import alb
from .deps import SwitchDeps

EVENT_REASON_CHARS = 500  # an event's reasons are cut here
RECORD_REASON_CHARS = 2000  # a gate entry's reasons are cut here (the record's item size)
SHOWN_PROBES = 5  # failed probe answers a gate or shift entry keeps
SHOWN_STATUSES = 10  # the synthetic traffic's most frequent statuses a gate entry keeps
SUMMARY_REASON_CHARS = 300  # an extended gate's reasons are cut here


class GateFailed(BlueGreenError):
    """A gate (alarm, metric, health, analysis, probe or traffic) failed after a step."""


class GateInconclusive(BlueGreenError):
    """A gate could not decide, after every extension the request allows."""


# -- the checks ------------------------------------------------------------------------------
def idle_health(plan: Plan, deps: SwitchDeps) -> CheckResult:
    minimum = int(plan["request"]["healthCheck"]["minHealthy"])
    return group_health(deps.clients.elbv2, plan["to"], minimum)


def _probes(raw: list[dict[str, Any]]) -> list[Probe]:
    return [Probe.from_mapping(p) for p in raw]


def test_probes(plan: Plan, deps: SwitchDeps) -> CheckResult:
    test = plan["request"]["testTraffic"]
    bases = [probe_base(deps.clients.elbv2, test["listenerArn"])]
    return run_probes("httpProbes", _probes(test["probes"]), _run(bases, deps, "test"))


def production_probes(plan: Plan, deps: SwitchDeps) -> CheckResult | None:
    """The request's production probes through every production listener (a rule's
    through its listener), or None when it has none."""
    production = plan["request"].get("productionTraffic")
    if not production:
        return None
    listeners = list(dict.fromkeys(alb.listener_of(route) for route in plan["routes"]))
    bases = listener_bases(deps.clients.elbv2, listeners)
    return run_probes(
        PRODUCTION_PROBES, _probes(production["probes"]), _run(bases, deps, "production")
    )


def _run(bases: list[str], deps: SwitchDeps, kind: str) -> ProbeRun:
    transport = deps.transport or PinnedTransport(deps.reach)
    return ProbeRun(bases, transport, deps.reach, where=f"through the {kind} listener")


def load_balancer(plan: Plan) -> str:
    """The load balancer of the switch's routes (the ARN says it: no call)."""
    for route in plan["routes"]:
        found = load_balancer_of_listener(str(route["arn"]))
        if found:
            return found
    return ""


def judge(
    plan: Plan, index: int, start: datetime, end: datetime, deps: SwitchDeps
) -> list[CheckResult]:
    """Every check of the gate after step `index`, over [start, end)."""
    request = plan["request"]
    step = plan["steps"][index]  # type: ignore[typeddict-item]
    cloudwatch = deps.clients.cloudwatch
    lb = load_balancer(plan)
    results = [alarms_check(cloudwatch, request["alarms"]), idle_health(plan, deps)]
    results += [
        metric_threshold(cloudwatch, c, plan["to"], lb, end) for c in request["metricChecks"]
    ]
    if request.get("analysis") and step["percent"] < 100:  # at 100 % blue serves nothing
        config = parse_analysis_config(request["analysis"])
        colours = Colours(lb, plan["to"], plan["from"])
        results.append(comparative_analysis(cloudwatch, colours, start, end, config))
    probed = production_probes(plan, deps)
    if probed is not None:
        results.append(probed)
    load = request.get("syntheticTraffic")
    if load:
        figures = (deps.store.find(plan["deploymentId"]) or {}).get("syntheticTraffic")
        results.append(synthetic_traffic(figures, int(load["maxErrors"])))
    return results


# -- the gate --------------------------------------------------------------------------------
def decide(
    plan: Plan, index: int, cursor: dict[str, Any], now: str, deps: SwitchDeps
) -> dict[str, Any]:
    """Judge the step's window, record and announce the verdicts, then pass (the next
    step's cursor), extend (the same step's, with `inconclusive` set) or fail.

    `cursor["extensions"]` counts the extensions the whole switch has used so far:
    `whenInconclusive.maxExtensions` bounds them per switch, which bounds both the
    switch's duration and its record (one gate entry per judgement)."""
    request = plan["request"]
    step = plan["steps"][index]  # type: ignore[typeddict-item]
    policy = request["whenInconclusive"]
    extensions = int(cursor.get("extensions", 0))
    may_extend = extensions < int(policy["maxExtensions"])
    deps.renew(plan, int(policy["extendSeconds"]) if may_extend else 0)
    shifted_at = str(cursor.get("shiftedAt") or now)
    start, end = _when(shifted_at), _when(now)
    results = judge(plan, index, start, end, deps)
    outcome, reason = verdict(results)
    decision = _decision(outcome, may_extend)
    if decision == "undecided":
        outcome, reason = apply_inconclusive_rule(outcome, reason, results, policy["then"])
        decision = "pass" if outcome is Outcome.PASSED else "fail"
    entry = {
        "phase": "gate",
        "index": index,
        "percent": step["percent"],
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "extension": extensions,
        "outcome": outcome.value,
        "decision": decision,
        "verdicts": [recorded(r) if decision != "extend" else summary(r) for r in results],
    }
    deps.store.append_step(plan["deploymentId"], entry)
    _announce(plan, entry, results, deps)
    where = f"after step {index + 1} ({step['percent']}%)"
    if decision == "fail" and outcome is Outcome.FAILED:
        raise GateFailed(f"{where}: {reason}")
    if decision == "fail":
        raise GateInconclusive(
            f"{where}, after {extensions} extension(s) of the bake: still {outcome.value}: {reason}"
        )
    if decision == "extend":
        return {
            "index": index,
            "last": step["last"],
            "inconclusive": True,
            "extensions": extensions + 1,
            "extendSeconds": int(policy["extendSeconds"]),
            "shiftedAt": shifted_at,
        }
    return {
        "index": index + 1,
        "last": step["last"],
        "inconclusive": False,
        "extensions": extensions,  # the budget is the switch's, not the step's
        "extendSeconds": 0,
        "shiftedAt": "",
    }


def _decision(outcome: Outcome, may_extend: bool) -> str:
    if outcome is Outcome.FAILED:
        return "fail"
    if outcome is Outcome.PASSED:
        return "pass"
    return "extend" if may_extend else "undecided"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def recorded(result: CheckResult) -> dict[str, Any]:
    """A verdict as a gate or shift entry of the record keeps it: the check, its outcome,
    its reason (at most `RECORD_REASON_CHARS`) and the figures that explain it, kept
    bounded so that the largest switch's record stays one DynamoDB item:

    - an analysis keeps per signal its figures and test, each colour's per-period series
      summarised by its count, and a signal's own reason only where the verdict's reason
      does not already say it;
    - probes keep the answers that failed (the first `SHOWN_PROBES`) and the counts;
    - alarms keep the states of the alarms not OK and how many were read;
    - the synthetic traffic keeps its `SHOWN_STATUSES` most frequent statuses.

    The test-traffic entry and the hooks keep `CheckResult.as_record()` whole."""
    record = result.as_record()
    reason = record["reason"]
    if len(reason) > RECORD_REASON_CHARS:
        record["reason"] = reason[: RECORD_REASON_CHARS - 1] + "…"
    details = record["details"]
    for signal in details.get("signals", []):
        _compact_signal(signal, reason)
    if isinstance(details.get("probes"), list):
        _compact_probes(details)
    if isinstance(details.get("alarms"), dict):
        states = details["alarms"]
        details["alarms"] = {name: state for name, state in states.items() if state != "OK"}
        details["alarmsRead"] = len(states)
    if isinstance(details.get("statuses"), dict) and len(details["statuses"]) > SHOWN_STATUSES:
        ranked = sorted(details["statuses"].items(), key=lambda item: -int(item[1]))
        details["statuses"] = dict(ranked[:SHOWN_STATUSES])
        details["otherStatuses"] = sum(int(count) for _, count in ranked[SHOWN_STATUSES:])
    return record


def summary(result: CheckResult) -> dict[str, Any]:
    """A verdict as an extended gate's entry keeps it: the check, its outcome and the start
    of its reason. The next judgement of the step covers a longer window from the same
    shift (the whole of this one), and records its figures whole."""
    reason = result.reason
    if len(reason) > SUMMARY_REASON_CHARS:
        reason = reason[: SUMMARY_REASON_CHARS - 1] + "…"
    return {**result.as_dict(), "reason": reason}


def _compact_signal(signal: dict[str, Any], reason: str) -> None:
    if signal.get("reason") and signal["reason"] in reason:
        del signal["reason"]
    for colour in ("green", "blue"):
        figures = signal.get(colour)
        if isinstance(figures, dict) and "values" in figures:
            figures["periods"] = len(figures.pop("values"))


def _compact_probes(details: dict[str, Any]) -> None:
    answers = details["probes"]
    failed = [a for a in answers if not a.get("ok")]
    latencies = [a["ms"] for a in answers if a.get("ms") is not None]
    details["probes"] = failed[:SHOWN_PROBES]
    details["answered"] = len(answers)
    details["failedProbes"] = len(failed)
    details["slowestMs"] = max(latencies, default=None)


def _announce(
    plan: Plan, entry: Mapping[str, Any], results: list[CheckResult], deps: SwitchDeps
) -> None:
    deps.announcer.announce(
        announce.GATE,
        {
            "deploymentId": plan["deploymentId"],
            "platform": "EC2",
            "index": entry["index"],
            "percent": entry["percent"],
            "outcome": entry["outcome"],
            "decision": entry["decision"],
            "window": entry["window"],
            "verdicts": [
                {
                    "check": r.check,
                    "outcome": r.outcome.value,
                    "reason": r.reason[:EVENT_REASON_CHARS],
                    **_headline(r),
                }
                for r in results
            ],
        },
    )


def _headline(result: CheckResult) -> dict[str, Any]:
    """The figures an event carries for a verdict: the analysis' per-signal numbers."""
    signals = result.details.get("signals")
    if not signals:
        return {}
    keep = ("signal", "outcome", "test", "pValue", "samples", "tolerance", "excess", "upperBound")
    return {
        "window": result.details.get("window"),
        "signals": [
            {
                **{k: s.get(k) for k in keep},
                "green": {k: v for k, v in (s.get("green") or {}).items() if k != "values"},
                "blue": {k: v for k, v in (s.get("blue") or {}).items() if k != "values"},
            }
            for s in signals
        ],
    }
