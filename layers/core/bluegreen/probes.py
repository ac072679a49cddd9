"""HTTP probes of the EC2 switch's test traffic: status, body text, within a timeout.

A probe goes to the test listener's own address (`probe_base`: the load
balancer's DNS name, the listener's protocol and port, read from ELB); the request only
gives paths. The URL and every address it resolves to pass `bluegreen.checks.reach`, and
the transport (`bluegreen.checks.http`) connects to the checked address, follows no
redirect and reads a bounded body: the same rules as the lifecycle hooks' probes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checks.http import HttpTransport, PinnedTransport
from .checks.reach import ReachPolicy, Unreachable, check_url, listener_base

USER_AGENT = {"User-Agent": "bluegreen-probe/1"}


@dataclass(frozen=True)
class ProbeResult:
    url: str
    ok: bool
    status: int | None
    millis: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "status": self.status,
            "ms": self.millis,
            "reason": self.reason,
        }


def probe_base(elbv2: Any, listener_arn: str) -> str:
    """`http(s)://<load balancer DNS name>:<port>` of the test listener, from ELB."""
    listener = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    balancer = elbv2.describe_load_balancers(LoadBalancerArns=[listener["LoadBalancerArn"]])[
        "LoadBalancers"
    ][0]
    return listener_base(listener, balancer)


def run_probe(
    base_url: str,
    probe: Mapping[str, Any],
    transport: HttpTransport | None = None,
    policy: ReachPolicy | None = None,
) -> ProbeResult:
    """One probe of `base_url` (a derived listener base); a refusal is a failed probe."""
    url = base_url.rstrip("/") + str(probe["path"])
    try:
        target = check_url(url, policy or ReachPolicy(), [base_url])
        answer = (transport or PinnedTransport(policy or ReachPolicy())).get(
            target.url, USER_AGENT, float(probe.get("timeoutSeconds", 5))
        )
    except Unreachable as refused:
        return ProbeResult(url, False, None, 0, f"not probed: {refused}")
    except (OSError, ValueError) as error:
        return ProbeResult(url, False, None, 0, f"no answer: {error}")
    millis = int(answer.elapsed_ms)
    expected = int(probe.get("expect", 200))
    if answer.status != expected:
        return ProbeResult(
            url, False, answer.status, millis, f"status {answer.status}, expected {expected}"
        )
    contains = probe.get("contains")
    if contains and contains not in answer.body:
        return ProbeResult(url, False, answer.status, millis, f"body does not contain {contains!r}")
    return ProbeResult(url, True, answer.status, millis, "ok")
