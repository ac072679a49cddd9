"""Probes reach only what they should, shown with a real HTTP server started by the test.

The server stands for whatever an attacker would like a probe to reach (the Lambda
runtime API on 127.0.0.1:9001, an internal admin page, a server of their own): every
form of pointing a probe at it is refused, and the server receives zero requests. A
positive control (the stack allowing that host and network) shows the same server does
receive a probe when it is allowed, so a zero means "refused", not "unobserved".

Integration-marked: these tests open loopback connections (the unit guard refuses all).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bluegreen.checks import Outcome, run_checks, verdict
from bluegreen.checks.http import MAX_BODY_BYTES, PinnedTransport
from bluegreen.checks.reach import ReachPolicy, Unreachable
from tests.unit.test_checks import context
from tests.unit.test_hook_fakes import FakeClients

pytestmark = pytest.mark.integration

ATTACKER = "attacker.test"  # resolves (here) to the test's server on 127.0.0.1


@dataclass
class Server:
    """A local HTTP server that counts what it receives."""

    status: int = 200
    body: bytes = b"secret"
    headers: dict[str, str] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    port: int = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[ThreadingHTTPServer] = []

    def start(server: Server) -> Server:
        http = ThreadingHTTPServer(("127.0.0.1", 0), server.handler())
        server.port = int(http.server_address[1])
        threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True).start()
        started.append(http)
        return server

    yield start
    for http in started:
        http.shutdown()
        http.server_close()


def resolver(calls: list[str] | None = None, *, after_first: str | None = None) -> Any:
    """`attacker.test` -> 127.0.0.1; every other name as the system resolves it. With
    `after_first`, later answers differ (a DNS-rebinding name)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if calls is not None:
            calls.append(host)
        if host == ATTACKER:
            answer = "127.0.0.1" if after_first is None or not calls or len(calls) == 1 else None
            if answer is None:
                return real("127.0.0.1", int(after_first or 0), *args, **kwargs)
            return real(answer, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    return getaddrinfo


def hook_probe(config: dict[str, Any], policy: ReachPolicy) -> tuple[Outcome, str]:
    ctx = context(
        FakeClients(),
        config,
        transport=PinnedTransport(policy, resolver()),
        reach=policy,
    )
    return verdict(run_checks(["httpProbes"], ctx))


EMULATOR_LIKE = ReachPolicy.from_settings("", "127.0.0.1/32")  # loopback allowed, no host


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f000001:{port}/",
        "http://user@127.0.0.1:{port}/",
        "http://ok.example@127.0.0.1:{port}/",
        "http://attacker.test:{port}/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_a_per_deployment_endpoint_never_reaches_a_host_the_stack_did_not_allow(
    serve: Any, endpoint: str
) -> None:
    # Given an attacker's server, and a deployment configuration pointing probes at it
    # (listing its host in allowedHosts too, which can only narrow the stack's list)
    server = serve(Server())
    config = {
        "testEndpoint": endpoint.format(port=server.port),
        "allowedHosts": [ATTACKER],
        "probes": [{"path": "/"}],
    }
    # When the hook probes, in a stack that even allows loopback addresses
    try:
        result, reason = hook_probe(config, EMULATOR_LIKE)
    except Exception as refused:  # some forms are refused when the configuration is read
        assert "config.testEndpoint" in str(refused)
    else:
        # Then the probe fails, saying it was not sent
        assert result is Outcome.FAILED
        assert "not probed" in reason
    # and the server received nothing
    assert server.paths == []


def test_an_allowed_host_on_a_refused_address_is_not_connected_to(serve: Any) -> None:
    # Given the stack allows the host name, but not the (loopback) network it resolves to
    server = serve(Server())
    policy = ReachPolicy.from_settings(f"{ATTACKER}:{server.port}", "")
    config = {"testEndpoint": f"http://{ATTACKER}:{server.port}/", "probes": [{"path": "/"}]}
    result, reason = hook_probe(config, policy)
    assert result is Outcome.FAILED
    assert "127.0.0.1 is a loopback address" in reason
    assert server.paths == []


def test_positive_control_what_the_stack_allows_is_probed_once(serve: Any) -> None:
    # Given the stack allows both the host and its network
    server = serve(Server(body=b"ok web:2"))
    policy = ReachPolicy.from_settings(f"{ATTACKER}:{server.port}", "127.0.0.1/32")
    config = {"testEndpoint": f"http://{ATTACKER}:{server.port}", "probes": [{"path": "/h"}]}
    # Then the probe is sent, once, and passes
    assert hook_probe(config, policy)[0] is Outcome.PASSED
    assert server.paths == ["/h"]


def test_a_redirect_is_an_answer_and_is_not_followed(serve: Any) -> None:
    # Given an allowed server that redirects to another local server
    target = serve(Server())
    redirecting = serve(
        Server(status=302, headers={"Location": f"http://127.0.0.1:{target.port}/"})
    )
    policy = ReachPolicy.from_settings(f"{ATTACKER}:{redirecting.port}", "127.0.0.1/32")
    transport = PinnedTransport(policy, resolver())
    answer = transport.get(f"http://{ATTACKER}:{redirecting.port}/", {}, 5.0)
    # Then the redirect is the answer, and its target received nothing
    assert answer.status == 302
    assert redirecting.paths == ["/"]
    assert target.paths == []


def test_a_large_body_is_read_only_up_to_the_cap(serve: Any) -> None:
    server = serve(Server(body=b"x" * (4 * MAX_BODY_BYTES)))
    policy = ReachPolicy.from_settings(f"{ATTACKER}:{server.port}", "127.0.0.1/32")
    answer = PinnedTransport(policy, resolver()).get(f"http://{ATTACKER}:{server.port}/", {}, 5.0)
    assert len(answer.body) == MAX_BODY_BYTES


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
    serve: Any,
) -> None:
    # Given a name whose first answer is the allowed server and later answers another
    allowed, other = serve(Server()), serve(Server())
    calls: list[str] = []
    rebinding = resolver(calls, after_first=str(other.port))
    policy = ReachPolicy.from_settings(f"{ATTACKER}:{allowed.port}", "127.0.0.1/32")
    # When one probe is sent
    PinnedTransport(policy, rebinding).get(f"http://{ATTACKER}:{allowed.port}/", {}, 5.0)
    # Then the name was looked up once, and the request went to that answer only
    assert calls == [ATTACKER]
    assert (allowed.paths, other.paths) == (["/"], [])


def test_a_direct_transport_call_to_loopback_is_refused_by_the_default_policy(
    serve: Any,
) -> None:
    server = serve(Server())
    with pytest.raises(Unreachable, match="loopback"):
        PinnedTransport().get(f"http://127.0.0.1:{server.port}/", {}, 5.0)
    assert server.paths == []
