"""Synthetic traffic: a small, bounded load through the production listener for the whole
switch, counting what went wrong and which colour answered.

The switch's state machine starts the function once, asynchronously, when the idle group
is healthy (before any traffic moves), so the counts cover blue alone, every shift and
every bake. One invocation sends `ratePerSecond` GETs of `path` to the production
listener's own address (its load balancer's DNS name, protocol and port, derived as the
probes' are) until its own time is nearly up, then hands its counts to a new invocation of
itself; the chain stops as soon as the deployment record is no longer `IN_PROGRESS` (the
switch ended, however it ended), or after `maxSeconds`. A Lambda is what Step Functions
cannot be: something that keeps sending requests while the machine waits in a Wait state
(where it costs nothing); the machine pays one transition to start it.

Every answer is counted: a 2xx is a success; any other status, a timeout or a refused
connection is an error. An answer is attributed to a colour when it holds that colour's
text (`colours`, e.g. the versions), else it is `unattributed` (an ALB 502 comes from no
target). The counts are written to the record's `syntheticTraffic` field every
`REPORT_SECONDS`, where the gates read them (`bluegreen.checks.traffic`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import clock as wall_clock
from .checks.http import USER_AGENT, HttpTransport
from .checks.probes import probe_base
from .checks.reach import ReachPolicy, Unreachable, check_url
from .errors import InvalidInput
from .platforms import alb
from .store import IN_PROGRESS, Deployments, now_iso

REPORT_SECONDS = 2.0  # how fresh the figures a gate reads are
STOP_MARGIN_SECONDS = 5.0  # what an invocation keeps for its last report and hand-over
FIELD = "syntheticTraffic"


@dataclass
class Counts:
    """What the synthetic traffic saw so far (JSON through `as_dict` / `from_dict`)."""

    requests: int = 0
    errors: int = 0
    connection_errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    by_colour: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, status: int | None, colour: str) -> None:
        ok = status is not None and 200 <= status < 300
        self.requests += 1
        self.errors += 0 if ok else 1
        if status is None:
            self.connection_errors += 1
        self.statuses[str(status) if status is not None else "connection error"] += 1
        mine = self.by_colour.setdefault(colour, {"requests": 0, "errors": 0})
        mine["requests"] += 1
        mine["errors"] += 0 if ok else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "connectionErrors": self.connection_errors,
            "statuses": dict(sorted(self.statuses.items())),
            "byColour": {k: dict(v) for k, v in sorted(self.by_colour.items())},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Counts:
        raw = raw or {}
        return cls(
            requests=int(raw.get("requests", 0)),
            errors=int(raw.get("errors", 0)),
            connection_errors=int(raw.get("connectionErrors", 0)),
            statuses=Counter({str(k): int(v) for k, v in (raw.get("statuses") or {}).items()}),
            by_colour={
                str(k): {"requests": int(v["requests"]), "errors": int(v["errors"])}
                for k, v in (raw.get("byColour") or {}).items()
            },
        )


@dataclass
class SyntheticDeps:
    elbv2: Any
    store: Deployments
    transport: HttpTransport
    reach: ReachPolicy
    hand_over: Callable[[dict[str, Any]], None]  # invoke this function again, asynchronously
    remaining_seconds: Callable[[], float]  # the invocation's own time left
    clock: Callable[[], float] = wall_clock.now
    sleep: Callable[[float], None] = wall_clock.sleep


def production_listener(plan: Mapping[str, Any]) -> str:
    """The listener the load goes through: the first production route's."""
    return alb.listener_of(plan["routes"][0])


def run(plan: Mapping[str, Any], state: Mapping[str, Any], deps: SyntheticDeps) -> dict[str, Any]:
    """Send the load for one invocation; hand over, or stop when the switch ended."""
    load = plan["request"].get("syntheticTraffic")
    if not isinstance(load, Mapping):
        raise InvalidInput(
            "plan.request.syntheticTraffic", "this switch sends no synthetic traffic"
        )
    deployment = str(plan["deploymentId"])
    started = float(state.get("startedAt") or deps.clock())
    counts = Counts.from_dict(state.get("counts"))
    base = probe_base(deps.elbv2, production_listener(plan))
    target = check_url(base.rstrip("/") + load["path"], deps.reach, [base])
    stop = _why_stop(deps, deployment, started, load)
    last_report = deps.clock()
    while stop is None:
        sent = deps.clock()
        counts.count(*_one(target.url, load, deps))
        if deps.clock() - last_report >= REPORT_SECONDS:
            _report(deps, deployment, counts, started, running=True)
            last_report = deps.clock()
            stop = _why_stop(deps, deployment, started, load)
        if stop is None and deps.remaining_seconds() <= STOP_MARGIN_SECONDS:
            _report(deps, deployment, counts, started, running=True)
            carried = {"startedAt": started, "counts": counts.as_dict()}
            deps.hand_over({"plan": dict(plan), "state": carried})
            return {"handedOver": True, **counts.as_dict()}
        deps.sleep(max(0.0, 1.0 / int(load["ratePerSecond"]) - (deps.clock() - sent)))
    _report(deps, deployment, counts, started, running=False, stopped=stop)
    return {"handedOver": False, "stopped": stop, **counts.as_dict()}


def _one(url: str, load: Mapping[str, Any], deps: SyntheticDeps) -> tuple[int | None, str]:
    headers = {"User-Agent": f"{USER_AGENT} (synthetic traffic)"}
    try:
        answer = deps.transport.get(url, headers, float(load["timeoutSeconds"]))
    except (OSError, ValueError, Unreachable):
        return None, "unattributed"
    return answer.status, _colour(answer.body, load.get("colours"))


def _colour(body: str, colours: Mapping[str, str] | None) -> str:
    for name, text in sorted((colours or {}).items()):
        if text and text in body:
            return name
    return "unattributed"


def _why_stop(
    deps: SyntheticDeps, deployment: str, started: float, load: Mapping[str, Any]
) -> str | None:
    if deps.clock() - started >= int(load["maxSeconds"]):
        return f"ran its {load['maxSeconds']} s"
    status = deps.store.find_status(deployment)
    if status != IN_PROGRESS:
        return f"the switch is {status or 'gone'}"
    return None


def _report(
    deps: SyntheticDeps,
    deployment: str,
    counts: Counts,
    started: float,
    *,
    running: bool,
    stopped: str | None = None,
) -> None:
    figures = {
        **counts.as_dict(),
        "startedAt": now_iso(lambda: started),
        "updatedAt": now_iso(deps.clock),
        "running": running,
        **({"stopped": stopped} if stopped else {}),
    }
    deps.store.set_field(deployment, FIELD, figures)


def event_payload(plan: Mapping[str, Any], state: Mapping[str, Any]) -> bytes:
    return json.dumps({"plan": dict(plan), "state": dict(state)}).encode()
