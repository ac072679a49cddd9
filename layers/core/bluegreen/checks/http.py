"""HTTP transport for probes: injectable, pinned to a checked address, bounded.

`PinnedTransport` resolves the URL's host once, checks every address with the stack's
`ReachPolicy` (`reach.check_address`), then connects to the first one itself and sends
the request over that socket (TLS is verified against the host name), so what is
connected to is what was checked: no second lookup, no DNS rebinding window. It never
follows a redirect (a 3xx is the answer), reads at most `MAX_BODY_BYTES` of a body and
stops at the timeout as a whole, not per read. Tests inject their own transport; a
probe never knows which one it has.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import reach

MAX_BODY_BYTES = 64 * 1024
USER_AGENT = "bluegreen-probe/1"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    elapsed_ms: float


class HttpTransport(Protocol):
    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        """GET `url`; an HTTP error status is an answer, a network failure raises OSError."""
        ...


@dataclass
class PinnedTransport:
    """GET over a socket to the address `reach` checked (the standard library only)."""

    policy: reach.ReachPolicy = field(default_factory=reach.ReachPolicy)
    resolver: reach.Resolver | None = None  # None: socket.getaddrinfo, looked up per call

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        target = reach.parse(url)
        family, kind, proto, _, address = reach.resolve(target, self.policy, self.resolver)
        started = time.perf_counter()
        deadline = started + timeout
        connection = _Pinned(target, (family, kind, proto, address), timeout)
        try:
            connection.request(
                "GET",
                target.path,
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": "*/*",
                    "Connection": "close",
                    **dict(headers),
                    "Host": headers.get("Host") or target.authority,
                },
            )
            response = connection.getresponse()
            body = _bounded_read(response, deadline)
            status = int(response.status)
        finally:
            connection.close()
        elapsed = (time.perf_counter() - started) * 1000
        return HttpAnswer(status, body.decode("utf-8", "replace"), elapsed)


class _Pinned(http.client.HTTPConnection):
    """An HTTP(S) connection to one socket address, whatever its host name resolves to."""

    def __init__(self, target: reach.Target, address: tuple[Any, ...], timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._target = target
        self._address = address

    def connect(self) -> None:
        family, kind, proto, sockaddr = self._address
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(self.timeout)
            sock.connect(sockaddr)
            if self._target.scheme == "https":
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=self._target.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _bounded_read(response: http.client.HTTPResponse, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_BODY_BYTES:
        if time.perf_counter() > deadline:
            raise TimeoutError("the answer took longer than the probe's timeout")
        chunk = response.read(min(16384, MAX_BODY_BYTES - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
