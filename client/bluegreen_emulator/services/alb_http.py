"""The data plane of the emulated load balancers: routing, answers and their metrics.

moto's ALBs have DNS names (`<name>-<n>.<region>.elb.amazonaws.com`) that resolve
nowhere. With the emulator running, such a name resolves (moto_patches/dns.py) to a small HTTP
server on 127.0.0.1, one per listener, that routes each request like the ALB would: the
listener's rules in priority order (host-header and path-pattern conditions), else its
default action; a forward action with several target groups splits requests by their
weights (smooth weighted round-robin: at 90/10, exactly one request in ten reaches the
second group, deterministically). It then answers as the targets in that group would:

- by default `200` with a JSON body naming the target group and the task definition of
  the ECS task set (or ECS-native revision) registered in it, e.g.
  `{"targetGroup": "shop-green", "taskDefinition": "...:task-definition/web:2"}`;
- as the group's application answers (`serve(target_group_arn, app)`: the EC2 fleets'
  nginx + app processes);
- or as a test told it: `respond(target_group_arn, status=503, body="...", delay_ms=50,
  error_rate=0.05)`: every answer that status, or a share of them (deterministically, e.g.
  one in twenty) a 5xx; `connection_errors=True` makes the targets refuse connections
  (the ALB then answers 502 itself).

Like an ALB, it publishes per target group and per minute, with the dimensions
`TargetGroup` and `LoadBalancer`, `RequestCount`, `HTTPCode_Target_5XX_Count`,
`TargetConnectionErrorCount` (counts, only when non-zero) and `TargetResponseTime`
(seconds, the distribution as Values/Counts), for every request it serves: probes, the
synthetic traffic, and the user traffic `simulate` stands for. Timestamps and latencies
are on the emulator's clock (`Clock.epoch`: a request is stamped with its sender's
emulated time, which it carries in a header, moto_patches/clock.py; a target's latency is
its configured delay, in emulated time, never the wall time a loaded machine took), so a
bake the clock skipped holds the traffic that `simulate` sent during it.

Code under test just opens `http://<ALB DNS name>:<port>/path`: nothing in it knows.
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from moto.ecs.models import ecs_backends

from ..core import clock as clocks

if TYPE_CHECKING:
    from ..core.host import Host

ELB_SUFFIX = ".elb.amazonaws.com"
NAMESPACE = "AWS/ApplicationELB"
BASE_LATENCY_SECONDS = 0.020  # a target's median answer time, before any configured delay
LATENCY_SPREAD = 0.25  # lognormal shape: the tail of a healthy target
VALUES_PER_DATUM = 150  # PutMetricData: Values/Counts per metric datum
# the latencies published per target group and minute: a sample of the requests' (moto
# keeps every one as a datapoint; a few hundred give the percentiles to a few ms)
LATENCY_SAMPLE = 300

App = Callable[[str], tuple[int, str]]  # path -> (status, body)


@dataclass
class Answer:
    """How a target group's targets answer (a test's or the demo's say)."""

    status: int = 200
    body: str | None = None
    delay_ms: int = 0
    error_rate: float = 0.0  # a share of answers that are `error_status` instead
    error_status: int = 503
    connection_errors: bool = False  # the targets refuse connections: the ALB says 502


@dataclass(frozen=True)
class Served:
    listener_arn: str
    target_group_arn: str | None
    path: str
    host: str
    status: int


@dataclass
class _Minute:
    """One target group's figures for one minute, before they are published."""

    requests: int = 0
    errors: int = 0
    connection_errors: int = 0
    latencies: Counter[float] = field(default_factory=Counter)


class AlbHttp:
    def __init__(
        self, host: Host, native_revision_in: Callable[[str], str | None] | None = None
    ) -> None:
        self.aws = host
        # the ECS-native emulation's answer: which task definition serves a target group
        self._native_revision_in = native_revision_in
        self.answers: dict[str, Answer] = {}
        self.apps: dict[str, App] = {}
        self.served: list[Served] = []
        self.simulated = 0  # requests `simulate` stood for
        self._servers: dict[tuple[str, int], ThreadingHTTPServer] = {}
        self._lock = threading.Lock()
        self._turns: dict[str, dict[str, float]] = {}  # smooth weighted round-robin state
        self._counted: Counter[str] = Counter()  # answers per target group (error share)
        self._random: dict[str, random.Random] = {}

    # -- test control ----------------------------------------------------------------------
    def respond(
        self,
        target_group_arn: str,
        status: int = 200,
        body: str | None = None,
        delay_ms: int = 0,
        error_rate: float = 0.0,
        error_status: int = 503,
        connection_errors: bool = False,
    ) -> None:
        """Make the targets behind `target_group_arn` answer like this."""
        self.answers[target_group_arn] = Answer(
            status, body, delay_ms, error_rate, error_status, connection_errors
        )

    def healthy(self, target_group_arn: str) -> None:
        """The targets answer as their application does again."""
        self.answers.pop(target_group_arn, None)

    def serve(self, target_group_arn: str, app: App) -> None:
        """The targets of `target_group_arn` run `app` (path -> status, body)."""
        self.apps[target_group_arn] = app

    # -- resolution (called from the patched socket.getaddrinfo) ---------------------------
    def resolve(self, host: str, port: Any) -> int | None:
        """The local port serving `host:port`, or None if it is not an emulated listener."""
        if not host.endswith(ELB_SUFFIX):
            return None
        try:
            wanted = int(port) if port is not None else 80
        except (TypeError, ValueError):
            return None
        with self._lock:
            if (host, wanted) in self._servers:
                return int(self._servers[(host, wanted)].server_address[1])
            listener = self._find_listener(host, wanted)
            if listener is None:
                return None
            server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(listener))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            self._servers[(host, wanted)] = server
            return int(server.server_address[1])

    def stop(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.shutdown()
                server.server_close()
            self._servers.clear()

    def _find_listener(self, dns: str, port: int) -> str | None:
        elbv2 = self.aws.client("elbv2")
        pages = elbv2.get_paginator("describe_load_balancers").paginate()  # the answer is paged
        for lb in (lb for page in pages for lb in page["LoadBalancers"]):
            if lb["DNSName"] != dns:
                continue
            for listener in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
                "Listeners"
            ]:
                if int(listener["Port"]) == port:
                    return str(listener["ListenerArn"])
        return None

    # -- routing -----------------------------------------------------------------------------
    def route(self, listener_arn: str, host: str, path: str) -> str | None:
        """The target group the next request for `host` + `path` on this listener goes to."""
        key, groups = self.forward(listener_arn, host, path)
        return self._next_turn(key, groups)

    def forward(self, listener_arn: str, host: str, path: str) -> tuple[str, dict[str, int]]:
        """(the matching rule or listener, {target group: weight}) for a request."""
        elbv2 = self.aws.client("elbv2")
        rules = elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]
        ordered = sorted(
            (r for r in rules if not r.get("IsDefault")), key=lambda r: int(r["Priority"])
        )
        for rule in ordered:
            if all(_matches(c, host, path) for c in rule.get("Conditions", [])):
                return str(rule["RuleArn"]), _forward_weights(rule.get("Actions", []))
        listener = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
        return listener_arn, _forward_weights(listener.get("DefaultActions", []))

    def _next_turn(self, key: str, groups: dict[str, int]) -> str | None:
        """Smooth weighted round-robin: each group gains its weight, the leader is chosen
        and pays the total back; over any `total` requests each group gets its weight."""
        live = {g: w for g, w in groups.items() if w > 0}
        if not live:
            return None
        with self._lock:
            turns = self._turns.setdefault(key, {})
            for group in list(turns):
                if group not in live:
                    del turns[group]
            for group, weight in live.items():
                turns[group] = turns.get(group, 0.0) + weight
            chosen = max(sorted(turns), key=lambda g: turns[g])
            turns[chosen] -= sum(live.values())
        return chosen

    # -- answers -----------------------------------------------------------------------------
    def answer(
        self, target_group: str | None, path: str, with_body: bool = True
    ) -> tuple[int, str, float, bool]:
        """(status, body, latency in emulated seconds, connection error) of one request."""
        if target_group is None:
            return 503, json.dumps({"error": "no target group"}), 0.0, False
        configured = self.answers.get(target_group) or Answer()
        latency = self._latency(target_group, configured)
        if configured.connection_errors:
            return 502, json.dumps({"error": "target refused the connection"}), latency, True
        with self._lock:
            self._counted[target_group] += 1
            nth = self._counted[target_group]
        if _one_of_share(nth, configured.error_rate):
            return configured.error_status, json.dumps({"error": "injected"}), latency, False
        status, body = self._app_answer(target_group, path, configured, with_body)
        return status, body, latency, False

    def _app_answer(
        self, target_group: str, path: str, configured: Answer, with_body: bool
    ) -> tuple[int, str]:
        if target_group in self.answers and (configured.status != 200 or configured.body):
            text = configured.body
            if text is None:
                text = self._default(target_group) if with_body else ""
            return configured.status, text
        app = self.apps.get(target_group)
        if app is not None:
            return app(path)
        return 200, self._default(target_group) if with_body else ""

    def _default(self, target_group: str) -> str:
        return json.dumps(
            {
                "targetGroup": target_group.split("/")[-2],
                "taskDefinition": self._behind(target_group),
            }
        )

    def _latency(self, target_group: str, configured: Answer) -> float:
        with self._lock:
            rng = self._random.setdefault(
                target_group, random.Random(target_group.rsplit("/", 2)[-2])
            )
            spread = math.exp(rng.gauss(0.0, LATENCY_SPREAD))
        return round(BASE_LATENCY_SECONDS * spread + configured.delay_ms / 1000, 4)

    def _behind(self, target_group: str) -> str | None:
        """The task definition whose tasks are registered in `target_group`."""
        if self._native_revision_in is not None:
            found = self._native_revision_in(target_group)
            if found:
                return str(found)
        backend = ecs_backends[self.aws.account_id][self.aws.region]
        newest = None
        for service in backend.services.values():
            for task_set in service.task_sets:
                registered = any(
                    lb.get("targetGroupArn") == target_group for lb in task_set.load_balancers
                )
                if registered and (newest is None or task_set.createdAt > newest.createdAt):
                    newest = task_set
        return newest.task_definition if newest is not None else None

    # -- user traffic, in emulated time ------------------------------------------------------
    def simulate(
        self,
        listener_arn: str,
        rate_per_second: float,
        start: float,
        seconds: float,
        path: str = "/",
    ) -> int:
        """Stand for the users' requests to `listener_arn` during [start, start + seconds)
        of emulated time, at `rate_per_second`, split by the current weights: each target
        group answers them as it is told to, and the metrics hold them minute by minute."""
        _, groups = self.forward(listener_arn, "", path)
        live = {g: w for g, w in groups.items() if w > 0}
        total = 0
        for minute, span in _minutes(start, seconds):
            count = round(rate_per_second * span)
            for group, share in _split(count, live).items():
                self._publish(
                    listener_arn, group, minute + 30, self._serve_many(group, path, share)
                )
                total += share
        self.simulated += total
        return total

    def _serve_many(self, target_group: str, path: str, count: int) -> _Minute:
        """`count` requests to one group, answered as one would be, counted (no bodies);
        the latencies of the first `LATENCY_SAMPLE` of them."""
        bucket = _Minute()
        if not count:
            return bucket
        configured = self.answers.get(target_group) or Answer()
        status, _ = self._app_answer(target_group, path, configured, with_body=False)
        with self._lock:
            first = self._counted[target_group]
            self._counted[target_group] += count
        errors = math.floor((first + count) * configured.error_rate) - math.floor(
            first * configured.error_rate
        )
        bucket.requests = count
        if configured.connection_errors:
            bucket.connection_errors = count
            return bucket
        bucket.errors = errors * _is_5xx(configured.error_status) + (count - errors) * _is_5xx(
            status
        )
        for _ in range(min(count, LATENCY_SAMPLE)):
            bucket.latencies[round(self._latency(target_group, configured), 3)] += 1
        return bucket

    # -- metrics -------------------------------------------------------------------------------
    def _publish(self, listener_arn: str, target_group: str, when: float, figures: _Minute) -> None:
        if not figures.requests:
            return
        lb = listener_arn.split(":listener/", 1)[-1].rsplit("/", 1)[0]
        dims = [
            {"Name": "TargetGroup", "Value": target_group.split(":", 5)[5]},
            {"Name": "LoadBalancer", "Value": lb},
        ]
        at = datetime.fromtimestamp(when, UTC)
        data = [
            _count_datum(name, dims, at, value)
            for name, value in (
                ("RequestCount", figures.requests),
                ("HTTPCode_Target_5XX_Count", figures.errors),
                ("TargetConnectionErrorCount", figures.connection_errors),
            )
            if value
        ]
        histogram = sorted(figures.latencies.items())
        for first in range(0, len(histogram), VALUES_PER_DATUM):
            chunk = histogram[first : first + VALUES_PER_DATUM]
            data.append(
                {
                    "MetricName": "TargetResponseTime",
                    "Dimensions": dims,
                    "Timestamp": at,
                    "Unit": "Seconds",
                    "Values": [value for value, _ in chunk],
                    "Counts": [float(n) for _, n in chunk],
                }
            )
        cloudwatch = self.aws.client("cloudwatch")
        for first in range(0, len(data), 20):
            cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[first : first + 20])

    # -- the HTTP servers ------------------------------------------------------------------------
    def _handler(self, listener_arn: str) -> type[BaseHTTPRequestHandler]:
        alb = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                path = self.path.split("?")[0]
                target_group = alb.route(listener_arn, host, path)
                status, body, latency, refused = alb.answer(target_group, path)
                alb.served.append(Served(listener_arn, target_group, path, host, status))
                if target_group is not None:
                    bucket = _Minute()
                    _count(bucket, status, latency, refused)
                    sent_at = alb.aws.clock.epoch_of(self.headers.get(clocks.SENT_AT_HEADER))
                    alb._publish(listener_arn, target_group, sent_at, bucket)
                # the target's time, at the clock's scale (a probe's latency is emulated
                # time: the wall time it took on a loaded machine is not the target's)
                threading.Event().wait(latency * alb.aws.clock.scale)
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


def _is_5xx(status: int) -> int:
    return 1 if 500 <= status < 600 else 0


def _count(bucket: _Minute, status: int, latency: float, refused: bool) -> None:
    bucket.requests += 1
    if refused:
        bucket.connection_errors += 1
        return
    bucket.errors += _is_5xx(status)
    bucket.latencies[round(latency, 3)] += 1


def _count_datum(name: str, dims: list[dict[str, str]], at: datetime, value: int) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dims,
        "Timestamp": at,
        "Unit": "Count",
        "StatisticValues": {"SampleCount": value, "Sum": value, "Minimum": 1, "Maximum": 1},
    }


def _one_of_share(nth: int, share: float) -> bool:
    """Whether the nth answer is one of `share` (0..1): exactly floor(n * share) of the
    first n are."""
    return share > 0 and math.floor(nth * share) > math.floor((nth - 1) * share)


def _minutes(start: float, seconds: float) -> Iterable[tuple[float, float]]:
    """(minute start, seconds of [start, start + seconds) in that minute), in order."""
    end = start + seconds
    minute = math.floor(start / 60) * 60
    while minute < end:
        span = min(end, minute + 60) - max(start, minute)
        if span > 0:
            yield minute, span
        minute += 60


def _split(count: int, weights: dict[str, int]) -> dict[str, int]:
    """`count` requests by weight (largest remainders), as weighted routing splits them."""
    total = sum(weights.values())
    if not total:
        return {}
    exact = {g: count * w / total for g, w in weights.items()}
    shares = {g: math.floor(v) for g, v in exact.items()}
    left = count - sum(shares.values())
    for group in sorted(exact, key=lambda g: exact[g] - shares[g], reverse=True)[:left]:
        shares[group] += 1
    return shares


def _matches(condition: dict[str, Any], host: str, path: str) -> bool:
    field = condition.get("Field")
    if field == "host-header":
        values = (
            (condition.get("HostHeaderConfig") or {}).get("Values") or condition.get("Values") or []
        )
        return any(fnmatch.fnmatch(host.lower(), v.lower()) for v in values)
    if field == "path-pattern":
        values = (
            (condition.get("PathPatternConfig") or {}).get("Values")
            or condition.get("Values")
            or []
        )
        return any(fnmatch.fnmatchcase(path, v) for v in values)
    return False


def _forward_weights(actions: list[dict[str, Any]]) -> dict[str, int]:
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return {str(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
        if action.get("TargetGroupArn"):
            return {str(action["TargetGroupArn"]): 1}
    return {}
