"""HTTP probes, one vocabulary for every caller: status, body text, latency budget.

A probe is `{path, host, expectStatus, expectBody, maxLatencyMs, timeoutSeconds}`, in
the EC2 switch request (`testTraffic.probes`, `productionTraffic.probes`) and in the
hook configuration (`probes`, `productionProbes`) alike; `parse_probe` validates it for
both. The EC2 request's former keys `expect` (now `expectStatus`) and `contains` (now
`expectBody`) are still accepted for one release; a probe that uses them says so in its
verdict.

Probes go to a listener's own address (`listener_bases`: its load balancer's DNS name,
the listener's protocol and port, read from ELB), or, for the hooks, to a `testEndpoint`
whose host the stack allows (`ProbeAllowedHosts`). A per-deployment configuration can
only narrow that list (`allowedHosts`), never widen it. A Host header is sent only for
the listener rule's own host or an allowed host. Every URL and every resolved address
goes through `reach`, and the transport (`http`) connects to the checked address.

`run_probes` answers one `CheckResult` with every probe's figures (URL, status, latency,
what was wrong): the EC2 switch's test traffic and post-shift probes, and the hooks'
`httpProbes` (test listener) and `productionProbes` (production listener).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import InvalidInput
from .http import USER_AGENT, HttpTransport
from .model import CheckContext, CheckResult
from .reach import ReachPolicy, Unreachable, check_url, listener_base

HTTP_PROBES = "httpProbes"
PRODUCTION_PROBES = "productionProbes"
SHOWN_FAILURES = 5
KEYS = ("path", "host", "expectStatus", "expectBody", "maxLatencyMs", "timeoutSeconds")
DEPRECATED = {"expect": "expectStatus", "contains": "expectBody"}  # accepted for one release
MAX_BODY_TEXT = 256


@dataclass(frozen=True)
class Probe:
    path: str = "/"
    host: str | None = None
    expect_status: int = 200
    expect_body: str | None = None
    max_latency_ms: int | None = None  # no budget: the timeout bounds the probe
    timeout_seconds: float = 5.0
    deprecated: tuple[str, ...] = ()  # the former keys this probe was given with

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Probe:
        """A probe from its (validated) JSON form, in either vocabulary."""
        old = tuple(key for key in DEPRECATED if key in raw)
        return cls(
            path=str(raw.get("path", "/")),
            host=raw.get("host"),
            expect_status=int(raw.get("expectStatus", raw.get("expect", 200))),
            expect_body=raw.get("expectBody", raw.get("contains")),
            max_latency_ms=raw.get("maxLatencyMs"),
            timeout_seconds=float(raw.get("timeoutSeconds", 5)),
            deprecated=old,
        )

    @property
    def deprecation(self) -> str:
        if not self.deprecated:
            return ""
        named = ", ".join(f"{k} (use {DEPRECATED[k]})" for k in self.deprecated)
        return f"deprecated probe key(s) {named}"


def parse_probe(raw: Any, where: str, allowed_hosts: Sequence[str] = ()) -> dict[str, Any]:
    """The normalised JSON form of one probe; `InvalidInput` names the field and why.

    A probe given with the former keys keeps them (a normalised request parses to itself);
    one key under both names is refused."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(where, "must be an object {path, expectStatus, ...}")
    unknown = sorted(set(raw) - set(KEYS) - set(DEPRECATED))
    if unknown:
        raise InvalidInput(f"{where}.{unknown[0]}", f"is not a probe field; known: {list(KEYS)}")
    for old, new in DEPRECATED.items():
        if old in raw and new in raw:
            raise InvalidInput(f"{where}.{old}", f"give {new} only ({old} is its former name)")
    probe: dict[str, Any] = {"path": _path(raw.get("path", "/"), f"{where}.path")}
    status_key = "expect" if "expect" in raw else "expectStatus"
    probe[status_key] = _whole(raw, status_key, where, 200, 100, 599)
    probe.update(_body(raw, where))
    if raw.get("maxLatencyMs") is not None:
        probe["maxLatencyMs"] = _whole(raw, "maxLatencyMs", where, 0, 1, 60000)
    probe["timeoutSeconds"] = _whole(raw, "timeoutSeconds", where, 5, 1, 30)
    if raw.get("host") is not None:
        probe["host"] = _host(raw["host"], f"{where}.host", allowed_hosts)
    return probe


def _body(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The expected body text, under the key it was given with (the former `contains`
    may be null)."""
    key = "contains" if "contains" in raw else "expectBody"
    body = raw.get(key)
    if body is not None and (not isinstance(body, str) or not body or len(body) > MAX_BODY_TEXT):
        raise InvalidInput(f"{where}.{key}", f"must be text of 1 to {MAX_BODY_TEXT} characters")
    return {key: body} if body is not None or key == "contains" else {}


def _host(host: Any, where: str, allowed_hosts: Sequence[str]) -> str:
    if not isinstance(host, str) or not host:
        raise InvalidInput(where, "must be a host name")
    if allowed_hosts and host not in allowed_hosts:
        raise InvalidInput(where, f"{host!r} is not in allowedHosts {list(allowed_hosts)}")
    return host


def _path(value: Any, where: str) -> str:
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or "//" in value
        or "@" in value
        or "://" in value
    ):
        raise InvalidInput(where, f"must be an absolute path like /health, got {value!r}")
    return value


def _whole(raw: Mapping[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"{where}.{key}", f"must be a whole number from {low} to {high}, got {value!r}"
        )
    return value


# -- where probes go --------------------------------------------------------------------------
def listener_bases(elbv2: Any, listener_arns: Sequence[str]) -> list[str]:
    """`http(s)://<load balancer DNS name>:<port>` of each listener, in order, from ELB."""
    if not listener_arns:
        return []
    described = {
        d["ListenerArn"]: d
        for d in elbv2.describe_listeners(ListenerArns=list(listener_arns))["Listeners"]
    }
    wanted = sorted({d["LoadBalancerArn"] for d in described.values()})
    balancers = {
        lb["LoadBalancerArn"]: lb
        for lb in elbv2.describe_load_balancers(LoadBalancerArns=wanted)["LoadBalancers"]
    }
    return [
        listener_base(described[arn], balancers.get(described[arn]["LoadBalancerArn"], {}))
        for arn in listener_arns
    ]


def probe_base(elbv2: Any, listener_arn: str) -> str:
    """The base URL of one listener (see `listener_bases`)."""
    return listener_bases(elbv2, [listener_arn])[0]


# -- running them -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeRun:
    """What a set of probes needs besides the probes: where, how, and how long."""

    bases: Sequence[str]
    transport: HttpTransport
    policy: ReachPolicy
    time_left: Callable[[], float] = lambda: float("inf")
    host_for: Callable[[Probe], str | None] = lambda probe: None
    where: str = "through the test listener"


def run_probes(check: str, probes: Sequence[Probe], run: ProbeRun) -> CheckResult:
    """Every probe against every base; FAILED with the first failures, else PASSED."""
    if not probes:
        return CheckResult.passed(check, "no probes configured", probes=[])
    answers = [_probe(run, base, probe) for base in run.bases for probe in probes]
    failures = [a["reason"] for a in answers if not a["ok"]]
    notes = sorted({p.deprecation for p in probes if p.deprecated})
    figures = {"probes": answers, **({"deprecated": notes} if notes else {})}
    tail = "".join(f" ({note})" for note in notes)
    if failures:
        return CheckResult.failed(check, "; ".join(failures[:SHOWN_FAILURES]) + tail, **figures)
    latencies = [a["ms"] for a in answers]
    slowest = f", slowest {max(latencies)} ms" if latencies else ""
    return CheckResult.passed(
        check, f"{len(answers)} probe(s) answered as expected {run.where}{slowest}{tail}", **figures
    )


def _probe(run: ProbeRun, base: str, probe: Probe) -> dict[str, Any]:
    url = base.rstrip("/") + probe.path
    answer: dict[str, Any] = {"url": url, "ok": False, "status": None, "ms": None}
    try:
        host = run.host_for(probe)
    except Unreachable as refused:
        return {**answer, "reason": f"{probe.path}: not probed: {refused}"}
    label = probe.path + (f" (Host {host})" if host else "")
    timeout = min(probe.timeout_seconds, run.time_left())
    if timeout <= 0:
        return {**answer, "reason": f"{label}: no time left to probe"}
    headers = {"User-Agent": USER_AGENT, **({"Host": host} if host else {})}
    try:
        target = check_url(url, run.policy, run.bases)
        got = run.transport.get(target.url, headers, timeout)
    except Unreachable as refused:
        return {**answer, "reason": f"{label}: not probed: {refused}"}
    except (OSError, ValueError) as error:
        return {**answer, "reason": f"{label}: no answer ({error})"}
    answer.update(status=got.status, ms=round(got.elapsed_ms))
    problem = _judge(got, probe)
    answer.update(ok=problem is None, reason=f"{label}: {problem or 'ok'}")
    return answer


def _judge(answer: Any, probe: Probe) -> str | None:
    if answer.status != probe.expect_status:
        return f"status {answer.status}, expected {probe.expect_status}"
    if probe.expect_body and probe.expect_body not in answer.body:
        return f"body does not contain {probe.expect_body!r}"
    if probe.max_latency_ms is not None and answer.elapsed_ms > probe.max_latency_ms:
        return f"{answer.elapsed_ms:.0f} ms, budget {probe.max_latency_ms} ms"
    return None


# -- the hooks' checks ----------------------------------------------------------------------
def http_probes(ctx: CheckContext) -> CheckResult:
    """The configured probes through the release's test listener (or `testEndpoint`)."""
    config = ctx.config
    try:
        bases = _test_bases(ctx)
    except Unreachable as refused:
        if not config.probes:
            return CheckResult.passed(HTTP_PROBES, "no probes configured", probes=[])
        return CheckResult.failed(HTTP_PROBES, f"not probed: {refused}")
    test_host = ctx.target.test_host if not config.test_endpoint else None
    return run_probes(HTTP_PROBES, config.probes, _hook_run(ctx, bases, test_host, "test"))


def production_probes(ctx: CheckContext) -> CheckResult:
    """The configured production probes through the release's production listener."""
    probes = ctx.config.production_probes
    if not probes:
        return CheckResult.passed(PRODUCTION_PROBES, "no production probes configured", probes=[])
    listeners = ctx.target.production_listeners
    if not listeners:
        return CheckResult.failed(PRODUCTION_PROBES, "not probed: no production listener found")
    try:
        bases = listener_bases(ctx.clients.elbv2, listeners)
    except Unreachable as refused:
        return CheckResult.failed(PRODUCTION_PROBES, f"not probed: {refused}")
    run = _hook_run(ctx, bases, ctx.target.production_host, "production")
    return run_probes(PRODUCTION_PROBES, probes, run)


def _hook_run(ctx: CheckContext, bases: list[str], rule_host: str | None, kind: str) -> ProbeRun:
    policy = effective_policy(ctx)

    def host_for(probe: Probe) -> str | None:
        """The Host header: the listener rule's own host, or one the (narrowed) stack allows."""
        host = probe.host or rule_host
        if host is None or host == rule_host:
            return host
        name, _, port = host.lower().partition(":")
        if (name, int(port) if port.isdigit() else None) not in policy.allowed_hosts:
            raise Unreachable(f"Host {host!r} is neither the listener rule's host nor allowed")
        return host

    return ProbeRun(
        bases,
        ctx.transport,
        policy,
        ctx.deadline.remaining,
        host_for,
        f"through the {kind} listener",
    )


def effective_policy(ctx: CheckContext) -> ReachPolicy:
    """The stack's policy, narrowed by the configuration's `allowedHosts` if it has one."""
    policy: ReachPolicy = ctx.reach
    narrowed = getattr(ctx.config, "allowed_hosts", ())
    if not narrowed:
        return policy
    keep = {h.lower().rstrip(".") for h in narrowed}
    hosts = frozenset(
        (host, port)
        for host, port in policy.allowed_hosts
        if host in keep or f"{host}:{port}" in keep
    )
    return replace(policy, allowed_hosts=hosts)


def _test_bases(ctx: CheckContext) -> list[str]:
    config = ctx.config
    if config.test_endpoint:
        target = check_url(config.test_endpoint, effective_policy(ctx))
        return [f"{target.scheme}://{target.authority}{target.path.rstrip('/')}"]
    listeners = ctx.target.test_listeners
    if not listeners:
        raise Unreachable("no test listener to probe (and no testEndpoint)")
    return listener_bases(ctx.clients.elbv2, listeners)
