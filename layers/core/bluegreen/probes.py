"""HTTP probes against a test listener: status, body text, latency budget.

A probe only ever talks to the base URL it was given (scheme, host and port come from
the request, paths from the probe); redirects are not followed, so a probe cannot be
sent to another host.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


Fetch = Callable[[str, float], tuple[int, str]]


def http_fetch(url: str, timeout: float) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"User-Agent": "bluegreen-probe/1"})  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read(65536).decode("utf-8", "replace")


def run_probe(base_url: str, probe: Mapping[str, Any], fetch: Fetch = http_fetch) -> ProbeResult:
    url = base_url.rstrip("/") + str(probe["path"])
    started = time.perf_counter()
    try:
        status, body = fetch(url, float(probe.get("timeoutSeconds", 5)))
    except (OSError, ValueError) as error:
        millis = int((time.perf_counter() - started) * 1000)
        return ProbeResult(url, False, None, millis, f"no answer: {error}")
    millis = int((time.perf_counter() - started) * 1000)
    expected = int(probe.get("expect", 200))
    if status != expected:
        return ProbeResult(url, False, status, millis, f"status {status}, expected {expected}")
    contains = probe.get("contains")
    if contains and contains not in body:
        return ProbeResult(url, False, status, millis, f"body does not contain {contains!r}")
    return ProbeResult(url, True, status, millis, "ok")
