"""The test suite's own hygiene: tests cannot reach the network."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkBlockedError, connection_allowed

pytestmark = pytest.mark.unit


def test_a_unit_test_cannot_open_any_connection_not_even_to_loopback() -> None:
    # Given a unit test (this one) and a TCP socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # When it connects to loopback, Then the guard refuses before any packet is sent
        with pytest.raises(NetworkBlockedError, match="unit tests open no connections"):
            sock.connect(("127.0.0.1", 9))
        with pytest.raises(NetworkBlockedError):
            sock.connect_ex(("127.0.0.1", 9))


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (("127.0.0.1", 5005), True),
        (("127.8.9.10", 80), True),
        (("::1", 443, 0, 0), True),
        (("localhost", 5005), True),
        (("10.0.0.1", 80), False),
        (("192.168.1.1", 80), False),
        (("8.8.8.8", 53), False),
        (("sts.amazonaws.com", 443), False),
    ],
)
def test_other_tests_may_connect_to_loopback_only(
    address: tuple[object, ...], allowed: bool
) -> None:
    # Given a non-unit test, When it connects, Then only a loopback address is allowed
    assert connection_allowed(socket.AF_INET, address, unit_test=False) is allowed
    # and a unit test may connect nowhere
    assert connection_allowed(socket.AF_INET, address, unit_test=True) is False


def test_a_unit_test_cannot_resolve_a_host_name() -> None:
    # Given a unit test, When it looks up a public name, Then the lookup is refused
    with pytest.raises(NetworkBlockedError, match="resolve no host names"):
        socket.getaddrinfo("sts.amazonaws.com", 443)
    # while loopback still resolves (nothing leaves the machine)
    assert socket.getaddrinfo("127.0.0.1", 80)
