"""Text for people: the live status view, the history table, a plan, a record.

Pure functions of plain data (no AWS, no clock): the same snapshot always renders to
the same text, which is what the snapshot tests compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .progress import duration, platform, short_name, strategy_text
from .status import Snapshot, exit_code

WIDTH = 78
BAR = 40

_PHASES = {
    "ValidateInput": "validating the request",
    "IsDryRun": "validating the request",
    "Begin": "taking the locks",
    "HasRevision": "taking the locks",
    "DeployRevision": "deploying the revision to the idle fleet",
    "WaitForRevision": "deploying the revision to the idle fleet",
    "CheckRevision": "deploying the revision to the idle fleet",
    "RevisionDone": "deploying the revision to the idle fleet",
    "CheckIdleHealth": "waiting for the idle group to be healthy",
    "IdleHealthy": "waiting for the idle group to be healthy",
    "WaitForIdleHealth": "waiting for the idle group to be healthy",
    "HasTestTraffic": "checking the idle group",
    "TestTraffic": "probing through the test listener",
    "NeedsApproval": "checking the idle group",
    "WaitForApproval": "WAITING FOR APPROVAL",
    "Finish": "finishing",
    "Rollback": "ROLLING BACK",
}


# -- the live view ----------------------------------------------------------------------------
def status(snapshot: Snapshot) -> str:
    lines = _header(snapshot)
    lines += _traffic(snapshot)
    lines += _steps(snapshot)
    lines += _targets(snapshot)
    lines += _alarms(snapshot)
    lines += _timeline(snapshot)
    lines += _footer(snapshot)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def phase(snapshot: Snapshot) -> str:
    if snapshot.status == "RUNNING":
        return _running_phase(snapshot)
    if snapshot.status == "SUCCEEDED":
        return "PLANNED (dry run, nothing changed)" if snapshot.dry_run else "SUCCEEDED"
    if snapshot.outcome == "ROLLED_BACK":
        why = snapshot.error.removeprefix("SwitchRolledBack.")
        return f"ROLLED BACK ({why})" if why else "ROLLED BACK"
    if snapshot.error == "InvalidInput":
        return "REFUSED: invalid input, nothing changed"
    if snapshot.error == "LockHeld":
        return "REFUSED: a lock is held, nothing changed"
    return snapshot.status


def _running_phase(snapshot: Snapshot) -> str:
    state = snapshot.state
    if state.startswith("FailedAt"):
        return "ROLLING BACK"
    active = next((s for s in snapshot.steps if s.state == "active"), None)
    if active is not None and state in {"ShiftTraffic", "Bake", "Gate", "LastStep", "NextStep"}:
        where = f"step {active.index + 1}/{len(snapshot.steps)} ({active.percent}%)"
        return {
            "ShiftTraffic": f"shifting {where}",
            "Bake": f"baking {where}",
        }.get(state, f"checking the gate of {where}")
    return _PHASES.get(state, "running")


def _header(snapshot: Snapshot) -> list[str]:
    title = f"bluegreen switch {snapshot.deployment_id}"
    right = phase(snapshot)
    lines = [f"{title}{right:>{max(1, WIDTH - len(title))}}"]
    what = []
    if snapshot.from_group:
        what.append(
            f"{_name(snapshot, snapshot.from_group)} -> {_name(snapshot, snapshot.to_group)}"
        )
    if snapshot.strategy:
        what.append(snapshot.strategy)
    who = " ".join(
        part
        for part in (
            snapshot.version,
            f"by {snapshot.requested_by}" if snapshot.requested_by else "",
        )
        if part
    )
    if who:
        what.append(who)
    if what:
        lines.append("  " + ", ".join(what))
    lines.append("  " + progress_bar(snapshot.milestones_done, snapshot.milestones_total))
    lines.append(f"  {_started(snapshot)}")
    return lines


def progress_bar(done: int, total: int) -> str:
    if total <= 0:
        return "[" + "." * BAR + "]   planning"
    filled = round(BAR * done / total)
    percent = round(100 * done / total)
    return f"[{'#' * filled}{'-' * (BAR - filled)}] {percent:3d}%  {done}/{total} milestones"


def _started(snapshot: Snapshot) -> str:
    started = _time(snapshot.started_at)
    if started is None:
        return "not started"
    text = f"started {started:%Y-%m-%d %H:%M:%S} UTC"
    end = _time(snapshot.stopped_at) if snapshot.stopped_at else _time(snapshot.observed_at)
    if end is not None:
        took = duration((end - started).total_seconds())
        text += f", took {took}" if snapshot.stopped_at else f", running for {took}"
    return text


def _traffic(snapshot: Snapshot) -> list[str]:
    if not snapshot.routes:
        return _unreadable(snapshot, "routes", "traffic")
    groups = _group_order(snapshot)
    header = f"  {'traffic':<34}" + "".join(f"{_name(snapshot, g)[:14]:>15}" for g in groups)
    lines = ["", header]
    for route in snapshot.routes:
        total = sum(route.weights.values()) or 1
        cells = "".join(f"{round(100 * route.weights.get(g, 0) / total):>14}%" for g in groups)
        lines.append(f"    {route.label[:32]:<32}{cells}")
    return lines


def _group_order(snapshot: Snapshot) -> list[str]:
    order = [g for g in (snapshot.from_group, snapshot.to_group) if g]
    for route in snapshot.routes:
        order += [g for g in route.weights if g not in order]
    return order


def _steps(snapshot: Snapshot) -> list[str]:
    if not snapshot.steps:
        return []
    lines = ["", "  steps"]
    for step in snapshot.steps:
        verdicts = "; ".join(f"{v['check']} {'ok' if v['ok'] else 'FAILED'}" for v in step.verdicts)
        mark = {"passed": "passed", "failed": "FAILED", "active": "> now", "pending": ""}
        lines.append(
            f"    {step.index + 1:>2}  {step.percent:>3}%  bake {duration(step.bake_seconds):<10}"
            f"{mark.get(step.state, step.state):<8}{verdicts}"
        )
    return lines


def _targets(snapshot: Snapshot) -> list[str]:
    if not snapshot.groups:
        return _unreadable(snapshot, "target health", "targets")
    lines = ["", "  targets"]
    for group in snapshot.groups:
        problems = f"   {'; '.join(group.problems[:2])}" if group.problems else ""
        lines.append(
            f"    {group.name[:24]:<24} {'(' + group.role + ')':<7} "
            f"{group.healthy}/{group.registered} healthy{problems}"
        )
    return lines


def _alarms(snapshot: Snapshot) -> list[str]:
    if not snapshot.alarms:
        return _unreadable(snapshot, "alarms", "alarms")
    lines = ["", "  alarms"]
    for alarm in snapshot.alarms:
        reason = f"  {alarm.reason}" if alarm.state != "OK" and alarm.reason else ""
        lines.append(f"    {alarm.name[:30]:<30} {alarm.state:<17}{reason}"[: WIDTH + 20])
    return lines


def _unreadable(snapshot: Snapshot, section: str, title: str) -> list[str]:
    if section in snapshot.unreadable:
        return ["", f"  {title}: not readable with these credentials"]
    return []


def _timeline(snapshot: Snapshot) -> list[str]:
    if not snapshot.timeline:
        return []
    started = _time(snapshot.started_at)
    lines = ["", "  timeline"]
    marks = {"ok": "ok", "warn": "..", "fail": "!!", "info": "  "}
    for entry in snapshot.timeline:
        at = _time(entry.at)
        offset = _clock((at - started).total_seconds()) if at and started else entry.at[:19]
        lines.append(f"    {offset}  {marks.get(entry.level, '  ')} {entry.text}")
    return lines


def _footer(snapshot: Snapshot) -> list[str]:
    lines = []
    if snapshot.waiting_for_approval:
        lines += [
            "",
            f"  approve: bluegreen approve {snapshot.deployment_id}",
            f"  abort:   bluegreen abort {snapshot.deployment_id} --reason '...'",
        ]
    elif snapshot.ended and snapshot.status != "SUCCEEDED" and snapshot.cause:
        lines += ["", f"  cause: {snapshot.cause}"]
    code = exit_code(snapshot)
    if snapshot.ended or snapshot.waiting_for_approval:
        lines.append(f"  exit code {code}")
    return lines


def _name(snapshot: Snapshot, arn: str) -> str:
    return snapshot.names.get(arn) or short_name(arn)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, rest = divmod(seconds, 60)
    return f"+{minutes:02d}:{rest:02d}"


def _time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# -- history ----------------------------------------------------------------------------------
def history(records: Sequence[Mapping[str, Any]]) -> str:
    if not records:
        return "no deployments recorded yet\n"
    lines = [
        f"{'deployment':<24} {'status':<12} {'started (UTC)':<20} {'took':<9} {'from -> to':<26} by"
    ]
    for record in records:
        lines.append(
            f"{str(record.get('deploymentId', '?'))[:24]:<24} "
            f"{record.get('status', '?')!s:<12} "
            f"{str(record.get('startedAt', '')).replace('T', ' ').rstrip('Z')[:19]:<20} "
            f"{_took(record):<9} "
            f"{_moved(record)[:26]:<26} "
            f"{record.get('requestedBy', '')}"
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def record(data: Mapping[str, Any]) -> str:
    """One deployment record in full: who, what, every step with its verdicts, outcome."""
    lines = [
        f"deployment {data.get('deploymentId')}   {data.get('status')}",
        f"  {_moved(data)}   {data.get('version') or ''}   by {data.get('requestedBy', '?')}",
        f"  started {data.get('startedAt', '?')}   ended {data.get('endedAt', '-')}   "
        f"took {_took(data)}",
        f"  planned steps: {' -> '.join(f'{p}%' for p in data.get('plannedSteps', []))}",
        f"  locks: {', '.join(data.get('locks', [])) or '-'}",
    ]
    for step in data.get("steps", []):
        where = step.get("phase", "?")
        if "index" in step:
            where += f" {step['index'] + 1} ({step.get('percent', '?')}%)"
        lines.append(f"  {str(step.get('at', ''))[11:19]}  {where}")
        for verdict in step.get("verdicts", []):
            detail = verdict.get("detail") or ", ".join(
                f"{r.get('url', '?')} {r.get('status', '?')}" for r in verdict.get("results", [])
            )
            mark = "ok  " if verdict.get("ok") else "FAIL"
            lines.append(f"            {mark} {verdict.get('check')}: {detail}")
    outcome = data.get("outcome") or {}
    if outcome.get("cause"):
        lines.append(f"  cause: {outcome['cause']}")
    if outcome.get("summary"):
        lines.append(f"  outcome: {outcome['summary']}")
    for manual in data.get("manualRollbacks", []) or []:
        lines.append(f"  manual rollback by {manual.get('by')} at {manual.get('at')}")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _moved(record: Mapping[str, Any]) -> str:
    source, target = record.get("from"), record.get("to")
    if not source or not target:
        return "-"
    return f"{short_name(str(source))} -> {short_name(str(target))}"


def _took(record: Mapping[str, Any]) -> str:
    started = _time(str(record.get("startedAt", "")))
    ended = _time(str(record.get("endedAt", "")))
    if started is None or ended is None:
        return "-"
    return duration((ended - started).total_seconds())


# -- plan -------------------------------------------------------------------------------------
def plan(data: Mapping[str, Any]) -> str:
    request = data.get("request") or {}
    if platform(data, request) == "ECS":
        return _ecs_plan(data, request)
    names = {arn: short_name(arn) for arn in (data.get("from", ""), data.get("to", ""))}
    source, target = names.get(data.get("from", ""), "?"), names.get(data.get("to", ""), "?")
    lines = [
        "plan (dry run: nothing was changed)",
        f"  {source} -> {target}, {strategy_text(data)}",
        "",
        "  routes now",
    ]
    for current in data.get("current", []):
        weights = ", ".join(
            f"{names.get(arn, short_name(arn))} {w}" for arn, w in current["weights"].items()
        )
        lines.append(f"    {current['arn'].split(':', 5)[-1]}")
        lines.append(f"      {weights}")
    health = request.get("healthCheck") or {}
    lines += ["", "  before traffic moves"]
    lines.append(f"    lock {len(data.get('locks', []))} listener(s), snapshot every route")
    if data.get("hasRevision"):
        lines.append("    deploy the revision to the idle fleet and wait for it")
    lines.append(
        f"    wait for {target} to have {health.get('minHealthy', '?')} healthy target(s) "
        f"(up to {duration(health.get('timeoutSeconds', 0))})"
    )
    if data.get("hasTestTraffic"):
        probes = (request.get("testTraffic") or {}).get("probes", [])
        lines.append(f"    point the test listener at {target}, run {len(probes)} probe(s)")
    if data.get("needsApproval"):
        lines.append("    wait for approval (bluegreen approve / abort)")
    alarms = ", ".join(request.get("alarms", [])) or "none"
    lines += ["", f"  steps (gate after each: alarms {alarms}; target health; metrics)"]
    for step in data.get("steps", []):
        weights = ", ".join(
            f"{names.get(a, short_name(a))} {w}" for a, w in step["weights"].items()
        )
        lines.append(
            f"    {step['index'] + 1:>2}  {step['percent']:>3}%   {weights:<40} "
            f"bake {duration(step['bakeSeconds'])}"
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _ecs_plan(data: Mapping[str, Any], request: Mapping[str, Any]) -> str:
    source = short_name(str(data.get("from", "?")))
    target = short_name(str(data.get("to", "?")))
    mode = request.get("mode", "?")
    lines = [
        "plan (dry run: nothing was changed)",
        f"  ECS service {request.get('service', '?')} in {request.get('cluster', '?')} "
        f"({mode} blue/green)",
        f"  task definition {source} -> {target}, {strategy_text(data)}",
        f"  lock {len(data.get('locks', []))} service(s); guarding alarms: "
        f"{', '.join(request.get('alarms', [])) or 'none'}",
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
