"""HTTP probes through the test listener: status, body text, latency budget.

Probes go to the test listener's own address (its load balancer's DNS name, protocol and
port, read from ELB), or to a `testEndpoint` whose host the stack allows
(`ProbeAllowedHosts`). A per-deployment configuration can only narrow that list
(`allowedHosts`), never widen it. A Host header is sent only for the test rule's own host
or an allowed host. Every URL and every resolved address goes through `reach`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .model import CheckContext, CheckResult
from .reach import ReachPolicy, Unreachable, check_url, listener_base

HTTP_PROBES = "httpProbes"


def http_probes(ctx: CheckContext) -> CheckResult:
    config = ctx.config
    if not config.probes:
        return CheckResult.passed(HTTP_PROBES, "no probes configured")
    try:
        bases = _base_urls(ctx)
    except Unreachable as refused:
        return CheckResult.failed(HTTP_PROBES, f"not probed: {refused}")
    failures: list[str] = []
    answered = 0
    for base in bases:
        for probe in config.probes:
            problem = _probe(ctx, base, bases, probe)
            if problem:
                failures.append(problem)
            else:
                answered += 1
    if failures:
        return CheckResult.failed(HTTP_PROBES, "; ".join(failures[:5]))
    return CheckResult.passed(HTTP_PROBES, f"{answered} probe(s) answered as expected")


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


def _base_urls(ctx: CheckContext) -> list[str]:
    config = ctx.config
    if config.test_endpoint:
        target = check_url(config.test_endpoint, effective_policy(ctx))
        return [f"{target.scheme}://{target.authority}{target.path.rstrip('/')}"]
    listeners = ctx.target.test_listeners
    if not listeners:
        raise Unreachable("no test listener to probe (and no testEndpoint)")
    elbv2 = ctx.clients.elbv2
    described = elbv2.describe_listeners(ListenerArns=list(listeners))["Listeners"]
    balancers = {
        lb["LoadBalancerArn"]: lb
        for lb in _balancers(elbv2, {d["LoadBalancerArn"] for d in described})
    }
    return [listener_base(d, balancers.get(d["LoadBalancerArn"], {})) for d in described]


def _balancers(elbv2: Any, arns: set[str]) -> list[dict[str, Any]]:
    return list(elbv2.describe_load_balancers(LoadBalancerArns=sorted(arns))["LoadBalancers"])


def _host_header(ctx: CheckContext, probe: Any) -> str | None:
    """The Host header: the test rule's own host, or one the (narrowed) stack allows."""
    host = probe.host or ctx.target.test_host
    if host is None or host == ctx.target.test_host:
        return host
    name, _, port = host.lower().partition(":")
    allowed = effective_policy(ctx).allowed_hosts
    if (name, int(port) if port.isdigit() else None) not in allowed:
        raise Unreachable(f"Host {host!r} is neither the test rule's host nor allowed")
    return host


def _probe(ctx: CheckContext, base: str, bases: list[str], probe: Any) -> str | None:
    timeout = min(probe.timeout_seconds, ctx.deadline.remaining())
    if timeout <= 0:
        return f"{probe.path}: no time left to probe"
    try:
        target = check_url(base + probe.path, effective_policy(ctx), bases)
        host = _host_header(ctx, probe)
    except Unreachable as refused:
        return f"{probe.path}: not probed: {refused}"
    headers = {"User-Agent": "bluegreen-hook-probe/1"}
    if host:
        headers["Host"] = host
    try:
        answer = ctx.transport.get(target.url, headers, timeout)
    except (OSError, ValueError, Unreachable) as error:
        return f"{probe.path}: no answer ({error})"
    return _judge(answer, probe, f"{probe.path}" + (f" (Host {host})" if host else ""))


def _judge(answer: Any, probe: Any, label: str) -> str | None:
    if answer.status != probe.expect_status:
        return f"{label}: status {answer.status}, expected {probe.expect_status}"
    if probe.expect_body and probe.expect_body not in answer.body:
        return f"{label}: body does not contain {probe.expect_body!r}"
    if answer.elapsed_ms > probe.max_latency_ms:
        return f"{label}: {answer.elapsed_ms:.0f} ms, budget {probe.max_latency_ms} ms"
    return None
