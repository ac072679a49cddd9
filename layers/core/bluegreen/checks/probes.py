"""HTTP probes through the test listener: status, body text, latency budget.

Probes only go to the test listener's load balancer (its AWS DNS name and port) or to
the configured `testEndpoint`; a Host header is sent only for hosts in `allowedHosts`.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from .model import CheckContext, CheckResult

HTTP_PROBES = "httpProbes"


def http_probes(ctx: CheckContext) -> CheckResult:
    config = ctx.config
    if not config.probes:
        return CheckResult.passed(HTTP_PROBES, "no probes configured")
    bases = _base_urls(ctx)
    if isinstance(bases, CheckResult):
        return bases
    failures: list[str] = []
    answered = 0
    for base in bases:
        for probe in config.probes:
            problem = _probe(ctx, base, probe)
            if problem:
                failures.append(problem)
            else:
                answered += 1
    if failures:
        return CheckResult.failed(HTTP_PROBES, "; ".join(failures[:5]))
    return CheckResult.passed(HTTP_PROBES, f"{answered} probe(s) answered as expected")


def _base_urls(ctx: CheckContext) -> list[str] | CheckResult:
    config = ctx.config
    if config.test_endpoint:
        host = urllib.parse.urlsplit(config.test_endpoint).hostname
        if host not in config.allowed_hosts:
            return CheckResult.failed(HTTP_PROBES, f"testEndpoint host {host!r} is not allowed")
        return [config.test_endpoint.rstrip("/")]
    listeners = ctx.target.test_listeners
    if not listeners:
        return CheckResult.failed(HTTP_PROBES, "no test listener to probe (and no testEndpoint)")
    elbv2 = ctx.clients.elbv2
    described = elbv2.describe_listeners(ListenerArns=list(listeners))["Listeners"]
    balancers = {
        lb["LoadBalancerArn"]: lb
        for lb in _balancers(elbv2, {d["LoadBalancerArn"] for d in described})
    }
    return [
        f"{listener['Protocol'].lower()}://{balancers[listener['LoadBalancerArn']]['DNSName']}:{listener['Port']}"
        for listener in described
    ]


def _balancers(elbv2: Any, arns: set[str]) -> list[dict[str, Any]]:
    return list(elbv2.describe_load_balancers(LoadBalancerArns=sorted(arns))["LoadBalancers"])


def _probe(ctx: CheckContext, base: str, probe: Any) -> str | None:
    url = base + probe.path
    host = probe.host or ctx.target.test_host
    headers = {"User-Agent": "bluegreen-hook-probe/1"}
    if host:
        headers["Host"] = host
    timeout = min(probe.timeout_seconds, ctx.deadline.remaining())
    if timeout <= 0:
        return f"{probe.path}: no time left to probe"
    try:
        answer = ctx.transport.get(url, headers, timeout)
    except (OSError, ValueError) as error:
        return f"{probe.path}: no answer ({error})"
    label = f"{probe.path}" + (f" (Host {host})" if host else "")
    if answer.status != probe.expect_status:
        return f"{label}: status {answer.status}, expected {probe.expect_status}"
    if probe.expect_body and probe.expect_body not in answer.body:
        return f"{label}: body does not contain {probe.expect_body!r}"
    if answer.elapsed_ms > probe.max_latency_ms:
        return f"{label}: {answer.elapsed_ms:.0f} ms, budget {probe.max_latency_ms} ms"
    return None
