"""Text for people: the live status view, the history table, a plan, a record.

Pure functions of plain data (no AWS, no clock): the same snapshot always renders to
the same text, which is what the snapshot tests compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .progress import duration, platform, short_name, strategy_text
from .status import Countdown, Snapshot, countdown, exit_code

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
# A line is a list of (text, style) segments: plain text for logs and tests, colour in a
# terminal (watch.py maps the styles). Styles: ok, fail, warn, now, dim, title.
Segment = tuple[str, str]
Line = list[Segment]


def status(snapshot: Snapshot, exit_line: bool = True) -> str:
    """The live view as plain text (a log, a pipe, the snapshot tests); `exit_line`: end
    with the exit code `bluegreen status` gives this switch (not for another command)."""
    return plain(status_lines(snapshot, exit_line=exit_line))


def plain(lines: Sequence[Line]) -> str:
    return "\n".join("".join(text for text, _ in line).rstrip() for line in lines) + "\n"


def status_lines(
    snapshot: Snapshot, width: int | None = None, height: int | None = None, exit_line: bool = True
) -> list[Line]:
    """The live view; with `width`, every line fits it (cut with an ellipsis), with
    `height`, the oldest timeline entries give way so the view fits the screen."""
    sections = [
        _header(snapshot, width or WIDTH),
        _traffic(snapshot),
        _platform(snapshot),
        _steps(snapshot),
        _targets(snapshot),
        _alarms(snapshot),
        _timeline(snapshot),
        _footer(snapshot, exit_line),
    ]
    if height is not None:
        fixed = sum(len(s) for i, s in enumerate(sections) if i != 6)
        room = max(2, height - fixed - 1)
        timeline = sections[6]
        if len(timeline) > room:
            hidden = len(timeline) - room + 1
            sections[6] = [
                *timeline[:2],
                [(f"    ... {hidden} earlier", "dim")],
                *timeline[hidden + 2 :],
            ]
    lines = [line for section in sections for line in section]
    return [fit(line, width) for line in lines] if width else lines


def fit(line: Line, width: int) -> Line:
    """The line cut to `width` characters, ending with an ellipsis when cut."""
    total = sum(len(text) for text, _ in line)
    if total <= width:
        return line
    kept: Line = []
    room = width - 1
    for text, style in line:
        if room <= 0:
            break
        kept.append((text[:room], style))
        room -= len(text[:room])
    kept.append(("…", "dim"))
    return kept


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


def _phase_style(snapshot: Snapshot) -> str:
    if snapshot.status == "SUCCEEDED":
        return "ok"
    if snapshot.status == "RUNNING":
        return (
            "warn"
            if snapshot.waiting_for_approval or snapshot.state.startswith("FailedAt")
            else "now"
        )
    return "fail"


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
    if snapshot.platform == "ECS" and state.startswith("Ecs"):
        status = snapshot.platform_status or "starting"
        return f"platform deployment {status.lower()}"
    return _PHASES.get(state, "running")


def _header(snapshot: Snapshot, width: int) -> list[Line]:
    title = f"bluegreen switch {snapshot.deployment_id}"
    right = phase(snapshot)
    pad = max(1, width - len(title) - len(right))
    lines: list[Line] = [[(title, "title"), (" " * pad, ""), (right, _phase_style(snapshot))]]
    what = []
    if snapshot.platform == "ECS" and snapshot.service:
        what.append(f"ECS service {snapshot.service} ({snapshot.mode or '?'})")
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
        lines.append([("  " + ", ".join(what), "")])
    answered = approval_text(snapshot.answer)
    if answered:
        style = "ok" if snapshot.answer.get("decision") == "APPROVED" else "warn"
        lines.append([("  ", ""), (answered, style)])
    left = countdown(snapshot)
    done = float(snapshot.milestones_done)
    if left is not None and left.what == "bake" and left.total > 0:
        done += min(1.0, left.elapsed / left.total)  # the bar moves while the step bakes
    lines.append([("  ", ""), *progress_segments(done, snapshot.milestones_total)])
    if left is not None:
        lines.append(_countdown(snapshot, left))
    lines += _started(snapshot)
    return lines


def approval_text(answer: Mapping[str, Any]) -> str:
    """`approved by alice (arn:aws:sts::...:assumed-role/...) at ...: "looks good"`."""
    if not answer.get("decision"):
        return ""
    who = answer.get("by") or "?"
    if answer.get("name") and answer["name"] != who:
        who = f"{answer['name']} ({who})"
    text = f"{str(answer['decision']).lower()} by {who}"
    if answer.get("at"):
        text += f" at {answer['at']}"
    if answer.get("comment"):
        text += f': "{answer["comment"]}"'
    return text


def progress_bar(done: float, total: int) -> str:
    return "".join(text for text, _ in progress_segments(done, total))


def progress_segments(done: float, total: int) -> Line:
    if total <= 0:
        return [("[" + "." * BAR + "]   planning", "dim")]
    filled = round(BAR * done / total)
    percent = round(100 * done / total)
    return [
        ("[", ""),
        ("#" * filled, "ok"),
        ("-" * (BAR - filled), "dim"),
        (f"] {percent:3d}%  {int(done)}/{total} milestones", ""),
    ]


def _countdown(snapshot: Snapshot, left: Countdown) -> Line:
    clock = " (state machine clock)" if snapshot.clock_scale != 1.0 else ""
    style = "warn" if left.what in {"approval", "health"} else "now"
    return [
        ("  ", ""),
        (f"{left.text}: ", ""),
        (f"{duration(left.left)} left", style),
        (f" of {duration(left.total)}{clock}", "dim"),
    ]


def _started(snapshot: Snapshot) -> list[Line]:
    started = _time(snapshot.started_at)
    if started is None:
        return [[("  not started", "dim")]]
    scale = snapshot.clock_scale
    wall = " (wall clock)" if scale != 1.0 else ""
    text = f"  started {started:%Y-%m-%d %H:%M:%S} UTC{wall}"
    end_at = snapshot.stopped_at or snapshot.observed_at
    seconds = snapshot.machine_offset(end_at) if scale != 1.0 else _real_offset(snapshot, end_at)
    if seconds is not None:
        took = duration(seconds)
        text += f", took {took}" if snapshot.stopped_at else f", running for {took}"
    lines: list[Line] = [[(text, "")]]
    if scale != 1.0:
        pace = "take no real time" if scale < 0.005 else f"run at x{scale:.2g}"
        note = f"  times below: state machine clock (waits {pace}: an emulator)"
        lines.append([(note, "dim")])
    return lines


def _real_offset(snapshot: Snapshot, at: str) -> float | None:
    start, when = _time(snapshot.started_at), _time(at)
    return (when - start).total_seconds() if start and when else None


def _traffic(snapshot: Snapshot) -> list[Line]:
    if not snapshot.routes:
        return _unreadable(snapshot, "routes", "traffic")
    groups = _group_order(snapshot)
    header = f"  {'traffic':<34}" + "".join(f"{_name(snapshot, g)[:14]:>15}" for g in groups)
    lines: list[Line] = [[], [(header, "title")]]
    for route in snapshot.routes:
        total = sum(route.weights.values()) or 1
        line: Line = [(f"    {route.label[:32]:<32}", "")]
        for group in groups:
            percent = round(100 * route.weights.get(group, 0) / total)
            style = "now" if percent and group == snapshot.to_group else ""
            line.append((f"{percent:>14}%", style))
        lines.append(line)
    return lines


def _group_order(snapshot: Snapshot) -> list[str]:
    # an ECS release moves task definitions: its columns are the routes' target groups
    order = [g for g in (snapshot.from_group, snapshot.to_group) if ":targetgroup/" in g]
    for route in snapshot.routes:
        order += [g for g in route.weights if g not in order]
    return order


_LIFECYCLE_STYLE = {
    "Succeeded": "ok",
    "SUCCESSFUL": "ok",
    "Failed": "fail",
    "FAILED": "fail",
    "InProgress": "now",
    "IN_PROGRESS": "now",
    "Skipped": "dim",
    "Pending": "dim",
}


def _platform(snapshot: Snapshot) -> list[Line]:
    """ECS: the platform's deployment and its lifecycle (CodeDeploy hooks or ECS stage)."""
    if snapshot.platform != "ECS" or not (snapshot.lifecycle or snapshot.platform_status):
        return []
    status = snapshot.platform_status or "?"
    lines: list[Line] = [
        [],
        [("  platform deployment ", "title"), (status, _LIFECYCLE_STYLE.get(status.title(), ""))],
    ]
    for event, state in snapshot.lifecycle.items():
        lines.append([(f"    {event[:32]:<32} ", ""), (state, _LIFECYCLE_STYLE.get(state, ""))])
    return lines


_STEP_MARKS = {
    "passed": ("passed", "ok"),
    "failed": ("FAILED", "fail"),
    "active": ("> now", "now"),
    "pending": ("", ""),
    "rolled back": ("ROLLED BACK", "fail"),
    "stopped": ("stopped", "warn"),
}


def _steps(snapshot: Snapshot) -> list[Line]:
    if not snapshot.steps:
        return []
    lines: list[Line] = [[], [("  steps", "title")]]
    for step in snapshot.steps:
        mark, style = _STEP_MARKS.get(step.state, (step.state, ""))
        bake = duration(step.bake_seconds)
        line: Line = [
            (f"    {step.index + 1:>2}  {step.percent:>3}%  bake {bake:<10}", ""),
            (f"{mark:<8}", style),
        ]
        for number, verdict in enumerate(step.verdicts):
            word, mark = _VERDICT_MARKS[verdict_outcome(verdict)]
            line.append(("; " if number else "", ""))
            line.append((f"{verdict['check']} {word}", mark))
        lines.append(line)
    return lines


_VERDICT_MARKS = {
    "PASSED": ("ok", "ok"),
    "FAILED": ("FAILED", "fail"),
    "INCONCLUSIVE": ("inconclusive", "warn"),
    "PENDING": ("pending", "warn"),
}


def verdict_outcome(verdict: Mapping[str, Any]) -> str:
    """PASSED, FAILED, INCONCLUSIVE or PENDING (records before the outcome said `ok`)."""
    if "outcome" in verdict:
        return str(verdict["outcome"])
    return "PASSED" if verdict.get("ok") else "FAILED"


def _targets(snapshot: Snapshot) -> list[Line]:
    if not snapshot.groups:
        return _unreadable(snapshot, "target health", "targets")
    lines: list[Line] = [[], [("  targets", "title")]]
    for group in snapshot.groups:
        problems = f"   {'; '.join(group.problems[:2])}" if group.problems else ""
        healthy = group.healthy == group.registered and group.registered > 0
        lines.append(
            [
                (f"    {group.name[:24]:<24} {'(' + group.role + ')':<7} ", ""),
                (f"{group.healthy}/{group.registered} healthy", "ok" if healthy else "warn"),
                (problems, "warn"),
            ]
        )
    return lines


_ALARM_STYLE = {"OK": "ok", "ALARM": "fail", "MISSING": "fail", "INSUFFICIENT_DATA": "warn"}


def _alarms(snapshot: Snapshot) -> list[Line]:
    if not snapshot.alarms:
        return _unreadable(snapshot, "alarms", "alarms")
    lines: list[Line] = [[], [("  alarms", "title")]]
    for alarm in snapshot.alarms:
        reason = f"  {alarm.reason}" if alarm.state != "OK" and alarm.reason else ""
        text = f"    {alarm.name[:30]:<30} "
        state = f"{alarm.state:<17}"
        keep = WIDTH + 20 - len(text) - len(state)
        lines.append([(text, ""), (state, _ALARM_STYLE.get(alarm.state, "")), (reason[:keep], "")])
    return lines


def _unreadable(snapshot: Snapshot, section: str, title: str) -> list[Line]:
    if section in snapshot.unreadable:
        return [[], [(f"  {title}: not readable with these credentials", "dim")]]
    return []


_MARKS = {"ok": ("ok", "ok"), "warn": ("..", "warn"), "fail": ("!!", "fail"), "info": ("  ", "")}


def _timeline(snapshot: Snapshot) -> list[Line]:
    if not snapshot.timeline:
        return []
    emulated = snapshot.clock_scale != 1.0
    lines: list[Line] = [[], [("  timeline", "title")]]
    for entry in snapshot.timeline:
        seconds = (
            snapshot.machine_offset(entry.at) if emulated else _real_offset(snapshot, entry.at)
        )
        offset = _clock(seconds) if seconds is not None else entry.at[:19]
        mark, style = _MARKS.get(entry.level, ("  ", ""))
        lines.append(
            [
                (f"    {offset}  ", "dim"),
                (mark, style),
                (" ", ""),
                (entry.text, style if style == "fail" else ""),
            ]
        )
    return lines


def _footer(snapshot: Snapshot, exit_line: bool = True) -> list[Line]:
    lines: list[Line] = []
    if snapshot.waiting_for_approval:
        lines += [
            [],
            [(f"  approve: bluegreen approve {snapshot.deployment_id}", "warn")],
            [(f"  abort:   bluegreen abort {snapshot.deployment_id} --reason '...'", "")],
        ]
    elif snapshot.ended and snapshot.status != "SUCCEEDED" and snapshot.cause:
        lines += [[], [("  cause: ", "fail"), (snapshot.cause, "")]]
    code = exit_code(snapshot)
    if exit_line and (snapshot.ended or snapshot.waiting_for_approval):
        lines.append([(f"  exit code {code}", "ok" if code == 0 else "warn")])
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
    answered = approval_text(data.get("approval") or {})
    if answered:
        lines.append(f"  approval: {answered}")
    for step in data.get("steps", []):
        where = step.get("phase", "?")
        if "index" in step:
            where += f" {step['index'] + 1} ({step.get('percent', '?')}%)"
        lines.append(f"  {str(step.get('at', ''))[11:19]}  {where}")
        if step.get("decision"):
            lines[-1] += f"   {step.get('outcome')}: {step['decision']}"
        for verdict in step.get("verdicts", []):
            detail = (
                verdict.get("reason")
                or verdict.get("detail")
                or ", ".join(
                    f"{r.get('url', '?')} {r.get('status', '?')}"
                    for r in verdict.get("results", [])
                )
            )
            mark = _RECORD_MARKS[verdict_outcome(verdict)]
            lines.append(f"            {mark} {verdict.get('check')}: {detail}")
            lines += [f"                   {figure}" for figure in figures(verdict)]
    outcome = data.get("outcome") or {}
    if outcome.get("cause"):
        lines.append(f"  cause: {outcome['cause']}")
    if outcome.get("summary"):
        lines.append(f"  outcome: {outcome['summary']}")
    for manual in data.get("manualRollbacks", []) or []:
        lines.append(f"  manual rollback by {manual.get('by')} at {manual.get('at')}")
    return "\n".join(line.rstrip() for line in lines) + "\n"


_RECORD_MARKS = {"PASSED": "ok  ", "FAILED": "FAIL", "INCONCLUSIVE": "??  ", "PENDING": "..  "}


def figures(verdict: Mapping[str, Any]) -> list[str]:
    """The figures behind a verdict, a line each: the analysis' window and, per signal,
    green against blue with the samples and the test; a metric's value and window; the
    synthetic traffic's counts per colour; the probes that failed."""
    details = verdict.get("details") or {}
    if details.get("signals") is not None:
        return _analysis_figures(details)
    if "threshold" in details:
        window = details.get("window") or {}
        return [
            f"value {details.get('value', '-')} ({details.get('comparison')} "
            f"{details['threshold']:g} fails), {details.get('datapoints', 0)} datapoint(s), "
            f"{window.get('start', '?')} to {window.get('end', '?')}"
        ]
    if "byColour" in details:
        colours = details.get("byColour") or {}
        return [
            f"{name}: {c.get('errors', 0)} error(s) in {c.get('requests', 0)} request(s)"
            for name, c in sorted(colours.items())
        ] + [f"statuses: {details.get('statuses', {})}"]
    probes = [p for p in details.get("probes", []) if isinstance(p, dict) and not p.get("ok")]
    return [f"{p.get('url')}: status {p.get('status')}, {p.get('ms')} ms" for p in probes]


def _analysis_figures(details: Mapping[str, Any]) -> list[str]:
    window = details.get("window") or {}
    lines = [
        f"window {window.get('start', '?')} to {window.get('end', '?')}: "
        f"{window.get('periods', 0)} period(s) of {window.get('periodSeconds', '?')} s, "
        f"alpha {details.get('alpha')}, rule {details.get('inconclusiveRule')}"
    ]
    for signal in details.get("signals") or []:
        green, blue = signal.get("green") or {}, signal.get("blue") or {}
        lines.append(
            f"{signal.get('signal')}: {signal.get('outcome')}; green {_shown(green)} vs "
            f"blue {_shown(blue)}; samples {signal.get('samples')}; {signal.get('test')}, "
            f"p={_number(signal.get('pValue'))}, excess {_number(signal.get('excess'))}, "
            f"bound {_number(signal.get('upperBound'))}, "
            f"tolerance {_number(signal.get('tolerance'))}"
        )
    return lines


def _shown(colour: Mapping[str, Any]) -> str:
    if "requests" in colour:
        return f"{colour.get('errors')}/{colour.get('requests')} ({_number(colour.get('ratio'))})"
    return f"median {_number(colour.get('median'))}"


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


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
    lines += fleet_check_lines(data.get("fleetChecks"), target)
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


def fleet_check_lines(checks: Mapping[str, Any] | None, target: str) -> list[str]:
    """The plan's fleet checks: the idle group's settings, each finding with its severity."""
    if not checks:
        return []
    findings = checks.get("findings") or []
    if not findings:
        return ["", f"  fleet checks ({checks.get('mode')}): {target}'s settings are safe"]
    lines = ["", f"  fleet checks ({checks.get('mode')}): {len(findings)} finding(s) on {target}"]
    for finding in findings:
        lines.append(f"    {finding['severity']:<7} {finding['message']}")
    return lines


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
