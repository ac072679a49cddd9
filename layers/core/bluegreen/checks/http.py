"""HTTP transport for probes: injectable, never follows redirects, reads a bounded body.

The default transport is `urllib` from the standard library (nothing to package). Tests
inject their own; a probe never knows which one it has.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    elapsed_ms: float


class HttpTransport(Protocol):
    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        """GET `url`; an HTTP error status is an answer, a network failure raises OSError."""
        ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # a probe never follows a redirect to another host


class UrllibTransport:
    """GET with the standard library; the global opener's handlers are honoured."""

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"refusing to probe a non-HTTP URL: {url!r}")
        request = urllib.request.Request(url, headers=dict(headers), method="GET")  # noqa: S310
        opener = urllib.request.build_opener(_NoRedirect)
        started = time.perf_counter()
        try:
            with opener.open(request, timeout=timeout) as response:
                body = response.read(MAX_BODY_BYTES)
                status = int(response.status)
        except urllib.error.HTTPError as error:
            body = error.read(MAX_BODY_BYTES)
            status = int(error.code)
        elapsed = (time.perf_counter() - started) * 1000
        return HttpAnswer(status, body.decode("utf-8", "replace"), elapsed)
