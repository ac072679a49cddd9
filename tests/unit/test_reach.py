"""Where a probe may go (bluegreen.checks.reach): the listener's own address, the stack's
allow-list, public addresses; never a request's host, metadata, or a private address the
stack did not allow."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bluegreen.checks.reach import (
    ReachPolicy,
    Unreachable,
    check_address,
    check_url,
    listener_base,
    resolve,
)
from bluegreen.errors import InvalidConfiguration

pytestmark = pytest.mark.unit

LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/0a"
DNS = "shop-1.us-east-1.elb.amazonaws.com"
BASE = f"http://{DNS}:8080"
STRICT = ReachPolicy()


def test_the_base_url_is_the_listeners_own_load_balancer_protocol_and_port() -> None:
    listener = {"ListenerArn": "l", "LoadBalancerArn": LB, "Protocol": "HTTPS", "Port": 8443}
    balancer = {"LoadBalancerArn": LB, "DNSName": DNS.upper() + "."}
    assert listener_base(listener, balancer) == f"https://{DNS}:8443"


def test_a_listener_that_does_not_speak_http_cannot_be_probed() -> None:
    listener = {"ListenerArn": "l", "LoadBalancerArn": LB, "Protocol": "TCP", "Port": 22}
    with pytest.raises(Unreachable, match="speaks TCP"):
        listener_base(listener, {"LoadBalancerArn": LB, "DNSName": DNS})


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://attacker.example/health", "neither the listener's own address"),
        ("http://169.254.169.254/latest/meta-data/", "neither the listener's own address"),
        ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", "neither"),
        ("http://[::1]:8080/", "neither"),
        ("http://2130706433:8080/", "neither"),
        (f"http://{DNS}:9001/", "neither"),  # the listener's host on another port
        (f"https://{DNS}:8080/", "neither"),  # another scheme than the listener's
        (f"http://user@{DNS}:8080/", "no user name or password"),
        (f"http://{DNS}:8080@attacker.example/", "no user name or password"),
        (f"ftp://{DNS}:8080/", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        (f"http://{DNS}:8080/a\\@b", "not a URL a probe can use"),
        (f"http://{DNS}:99999/", "not a URL a probe can use"),
        (f"http://{DNS}:8080//attacker.example/", "not a path"),
    ],
)
def test_a_url_that_is_not_the_listeners_or_allowed_is_refused(url: str, reason: str) -> None:
    with pytest.raises(Unreachable, match=reason):
        check_url(url, STRICT, [BASE])


def test_the_listeners_own_url_and_an_allow_listed_host_pass() -> None:
    assert check_url(f"{BASE}/health?deep=1", STRICT, [BASE]).path == "/health?deep=1"
    policy = ReachPolicy.from_settings("test.shop.example,admin.shop.example:8443", "")
    assert check_url("https://test.shop.example/x", policy).authority == "test.shop.example"
    assert check_url("https://admin.shop.example:8443/", policy).port == 8443
    with pytest.raises(Unreachable):  # an allowed name on a port the stack did not give
        check_url("http://test.shop.example:8080/", policy)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # CGNAT
        "169.254.10.10",  # link-local
        "fe80::1",
        "fc00::1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",  # v4-mapped loopback
        "240.0.0.1",  # reserved
    ],
)
def test_non_public_addresses_are_refused_unless_the_stack_allows_their_network(
    address: str,
) -> None:
    with pytest.raises(Unreachable, match="ProbeAllowedNetworks"):
        check_address(address, STRICT)
    wide = ReachPolicy.from_settings("", "0.0.0.0/0,::/0")
    assert check_address(address, wide)


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "fd00:ec2::254", "169.254.170.2", "::ffff:169.254.169.254"]
)
def test_metadata_addresses_are_refused_whatever_the_stack_allows(address: str) -> None:
    everything = ReachPolicy.from_settings("", "0.0.0.0/0,::/0")
    with pytest.raises(Unreachable, match="metadata"):
        check_address(address, everything)


def test_a_public_address_passes_and_an_allowed_network_opens_only_itself() -> None:
    assert str(check_address("52.94.236.248", STRICT)) == "52.94.236.248"
    vpc = ReachPolicy.from_settings("", "10.20.0.0/16")
    assert check_address("10.20.3.4", vpc)
    with pytest.raises(Unreachable):
        check_address("10.21.0.1", vpc)


@given(st.ip_addresses(v=4))
def test_every_ipv4_address_is_public_or_refused(address: ipaddress.IPv4Address) -> None:
    try:
        check_address(str(address), STRICT)
    except Unreachable:
        assert not address.is_global or address.is_multicast
    else:
        assert address.is_global and not address.is_multicast


def _resolver(*answers: str, calls: list[str] | None = None) -> Any:
    def getaddrinfo(host: str, port: int, *_: Any) -> list[tuple[Any, ...]]:
        if calls is not None:
            calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]

    return getaddrinfo


def test_every_resolved_address_is_checked_once_and_the_first_is_connected_to() -> None:
    target = check_url(f"{BASE}/", STRICT, [BASE])
    calls: list[str] = []
    # a name with one public and one private answer is refused as a whole
    with pytest.raises(Unreachable, match=r"10\.0\.0\.5"):
        resolve(target, STRICT, _resolver("52.94.236.248", "10.0.0.5", calls=calls))
    assert calls == [DNS]
    # a name with public answers gives the first, after one lookup
    calls.clear()
    info = resolve(target, STRICT, _resolver("52.94.236.248", "52.94.236.249", calls=calls))
    assert info[4] == ("52.94.236.248", 8080)
    assert calls == [DNS]


@pytest.mark.parametrize(
    ("hosts", "networks", "name"),
    [
        ("http://x.example", "", "PROBE_ALLOWED_HOSTS"),
        ("user@x.example", "", "PROBE_ALLOWED_HOSTS"),
        ("x.example:0", "", "PROBE_ALLOWED_HOSTS"),
        ("", "10.0.0.1/8", "PROBE_ALLOWED_NETWORKS"),
        ("", "everything", "PROBE_ALLOWED_NETWORKS"),
    ],
)
def test_a_wrong_stack_setting_is_a_configuration_error(
    hosts: str, networks: str, name: str
) -> None:
    with pytest.raises(InvalidConfiguration, match=name):
        ReachPolicy.from_settings(hosts, networks)
