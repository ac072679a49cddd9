"""What every test shares: network guards, `load_event`, and the emulated AWS.

- No test reaches the network: a unit test cannot open any socket connection nor resolve
  a host name, and no test can connect anywhere but loopback (the emulator's server mode
  binds 127.0.0.1).
- `load_event("name")` reads `events/name.json`, the same files `sam local invoke -e`
  takes.
- `aws` is a started `Emulator` with `template.yaml` deployed, one per test (a fresh
  account costs ~0.15 s); the terminal summary reports how long the deploys took.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from bluegreen_emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"

_REAL_CONNECT = socket.socket.connect
_REAL_CONNECT_EX = socket.socket.connect_ex
_DEPLOY_SECONDS: list[float] = []


class NetworkBlockedError(RuntimeError):
    """A test tried to open a connection it must not open."""


def load_event(name: str) -> Any:
    """The parsed content of `events/<name>.json`."""
    path = EVENTS / (name if name.endswith(".json") else f"{name}.json")
    if not path.is_file():
        known = sorted(p.stem for p in EVENTS.glob("*.json"))
        raise FileNotFoundError(f"no event {path.name} in events/ (known: {known})")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(name="load_event")
def _load_event_fixture() -> Callable[[str], Any]:
    return load_event


# -- network guards ---------------------------------------------------------------------
def connection_allowed(family: int, address: Any, *, unit_test: bool) -> bool:
    """Unit tests connect nowhere; other tests only to loopback (or a Unix socket)."""
    if unit_test:
        return False
    if family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it would be resolved and could go anywhere
        return False


@pytest.fixture(autouse=True)
def _network_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    unit_test = request.node.get_closest_marker("unit") is not None

    def check(sock: socket.socket, address: Any) -> None:
        if not connection_allowed(sock.family, address, unit_test=unit_test):
            where = (
                "unit tests open no connections" if unit_test else "tests connect to loopback only"
            )
            raise NetworkBlockedError(f"{where}: refused a connection to {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        _REAL_CONNECT(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return _REAL_CONNECT_EX(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    if unit_test:  # a DNS lookup is network traffic too
        resolve = socket.getaddrinfo

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host not in (None, "localhost") and not connection_allowed(
                socket.AF_INET, (host, 0), unit_test=False
            ):
                raise NetworkBlockedError(f"unit tests resolve no host names: {host!r}")
            return resolve(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# -- order: the slow tests first ----------------------------------------------------------
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked `slow` (single tests of 10 s and more) first, so the two
    workers share them out at the start instead of one finishing them alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# -- the collector: the long-lived heap out of its way ---------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After each test (its fixtures torn down), collect its garbage, then freeze what
    survives (moto's models, the imported modules): every later collection scans only what
    the next test allocates, instead of the whole heap again and again."""
    yield
    gc.collect()
    gc.freeze()


# -- the emulated AWS -------------------------------------------------------------------
@pytest.fixture
def aws() -> Iterator[Emulator]:
    """A fresh emulated account with the stack deployed (clock scale 0: no sleeping)."""
    from bluegreen_emulator import Emulator

    started = time.perf_counter()
    with Emulator() as emulator:
        _DEPLOY_SECONDS.append(time.perf_counter() - started)
        yield emulator


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)  # an xdist worker
    if workeroutput is not None:
        workeroutput["deploy_seconds"] = list(_DEPLOY_SECONDS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:  # xdist controller hook
    _DEPLOY_SECONDS.extend(getattr(node, "workeroutput", {}).get("deploy_seconds", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _DEPLOY_SECONDS:
        return
    ordered = sorted(_DEPLOY_SECONDS)
    terminalreporter.write_line(
        f"emulator deploys (aws fixture): {len(ordered)}, median "
        f"{statistics.median(ordered):.2f}s, 90th percentile "
        f"{ordered[int(0.9 * (len(ordered) - 1))]:.2f}s, max {ordered[-1]:.2f}s "
        "(the first in each process also imports moto)"
    )
