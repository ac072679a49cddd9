"""Where a probe may go: decided by the stack and the load balancer, never by a request.

Both probe paths (the EC2 switch's test traffic and the lifecycle hooks' `httpProbes`)
go through this module, and it does no I/O of its own (the resolver is passed in):

- `listener_base`: a probe's base URL is the listener's own: its load balancer's DNS
  name, the listener's protocol and port, as DescribeListeners/DescribeLoadBalancers
  say. Nothing in a request or a per-deployment configuration names a host.
- `check_url`: a URL is probed only if its host and port are one of those derived bases,
  or in the stack's allow-list (template parameter `ProbeAllowedHosts`, `host` or
  `host:port`); `user@host`, non-http(s) schemes and other ports are refused.
- `check_address` / `resolve`: every address a host resolves to is checked (IP literals
  too): loopback, link-local, private, CGNAT, multicast, unspecified, reserved and other
  non-global addresses are refused unless a network of the stack's
  `ProbeAllowedNetworks` holds them; the instance metadata addresses are refused always.
  The transport connects to the address that was checked (no second lookup, so no DNS
  rebinding window).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BlueGreenError, InvalidConfiguration

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., list[tuple[Any, ...]]]

DEFAULT_PORTS = {"http": 80, "https": 443}
# Never probed, whatever the stack allows: EC2/ECS/EKS metadata, credentials and DNS
# endpoints (IPv4 link-local and the Nitro IPv6 ones)
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.169.253",
        "169.254.169.123",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::254",
        "fd00:ec2::253",
        "fd00:ec2::123",
        "fd00:ec2::23",
    )
)
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Unreachable(BlueGreenError):
    """A probe URL or address that this stack does not let probes reach."""


@dataclass(frozen=True)
class ReachPolicy:
    """The stack's word on probes: hosts beyond the listeners' own, networks beyond the
    public internet. Built from the functions' settings, never from a request."""

    allowed_hosts: frozenset[tuple[str, int | None]] = frozenset()
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def from_settings(
        cls, hosts: str | Iterable[str], networks: str | Iterable[str]
    ) -> ReachPolicy:
        """From the template parameters' values (comma-separated text or lists)."""
        return cls(
            frozenset(_allowed_host(h) for h in _items(hosts)),
            tuple(_network(n) for n in _items(networks)),
        )


@dataclass(frozen=True)
class Target:
    """A URL that passed `check_url`: what the transport connects to and asks for."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, starting with "/"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"

    @property
    def authority(self) -> str:
        default = DEFAULT_PORTS[self.scheme] == self.port
        return _netloc(self.host, None if default else self.port)


def listener_base(listener: Mapping[str, Any], balancer: Mapping[str, Any]) -> str:
    """`http(s)://<load balancer DNS name>:<listener port>` of an ALB listener."""
    protocol = str(listener.get("Protocol", "")).lower()
    if protocol not in DEFAULT_PORTS:
        raise Unreachable(
            f"listener {listener.get('ListenerArn')} speaks {listener.get('Protocol')}, "
            "not HTTP or HTTPS: it cannot be probed"
        )
    if balancer.get("LoadBalancerArn") != listener.get("LoadBalancerArn"):
        raise Unreachable(f"listener {listener.get('ListenerArn')} is not on that load balancer")
    return f"{protocol}://{str(balancer['DNSName']).lower().rstrip('.')}:{int(listener['Port'])}"


def load_balancer_of_listener(arn: str) -> str | None:
    """The load balancer ARN of a listener or listener rule ARN (`...:listener/app/<name>/
    <id>/<listener>` -> `...:loadbalancer/app/<name>/<id>`), or None for anything else."""
    for marker in (":listener/", ":listener-rule/"):
        head, found, resource = arn.partition(marker)
        parts = resource.split("/")
        if found and len(parts) >= 3 and parts[0] in {"app", "net"}:
            return f"{head}:loadbalancer/{'/'.join(parts[:3])}"
    return None


def parse(url: str) -> Target:
    """The parts of an http(s) URL, or `Unreachable` for any form a probe never uses."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Unreachable(f"not a URL a probe can use: {url!r:.120} ({error})") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise Unreachable(f"only http and https are probed, not {parts.scheme or 'no'} scheme")
    if "@" in parts.netloc or parts.username is not None:
        raise Unreachable("a probe URL carries no user name or password (user@host)")
    if parts.fragment or "\\" in url or any(c.isspace() or ord(c) < 32 for c in url):
        raise Unreachable(f"not a URL a probe can use: {url!r:.120}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Unreachable("a probe URL needs a host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//"):
        raise Unreachable(f"not a path a probe can use: {path!r:.120}")
    return Target(parts.scheme, host, port or DEFAULT_PORTS[parts.scheme], path)


def check_url(url: str, policy: ReachPolicy, bases: Iterable[str] = ()) -> Target:
    """`url` as a Target if its scheme, host and port are a derived base's or allowed."""
    target = parse(url)
    derived = {(b.scheme, b.host, b.port) for b in (parse(base) for base in bases)}
    if (target.scheme, target.host, target.port) in derived:
        return target
    if (target.host, target.port) in policy.allowed_hosts or (
        (target.host, None) in policy.allowed_hosts and target.port == DEFAULT_PORTS[target.scheme]
    ):
        return target
    if _ip(target.host) is None and not _HOST.match(target.host):
        raise Unreachable(f"{target.host!r:.80} is not a host name")
    raise Unreachable(
        f"{target.authority} is neither the listener's own address nor in the stack's "
        "ProbeAllowedHosts"
    )


def check_address(address: str, policy: ReachPolicy) -> Address:
    """The address, if a probe may connect to it; `Unreachable` says why not."""
    found = _ip(address)
    if found is None:
        raise Unreachable(f"{address!r} is not an IP address")
    ip = _embedded_ipv4(found)
    if ip in METADATA or found in METADATA:
        raise Unreachable(f"{ip} is an instance metadata address: never probed")
    if (ip.is_global and not ip.is_multicast) or any(ip in n for n in policy.allowed_networks):
        return ip
    raise Unreachable(
        f"{ip} is a {_kind(ip)} address: probes reach it only if the stack's "
        "ProbeAllowedNetworks holds it"
    )


def resolve(
    target: Target, policy: ReachPolicy, resolver: Resolver | None = None
) -> tuple[Any, ...]:
    """Resolve once; every address must pass `check_address`; the first is connected to.
    (`socket.getaddrinfo` is looked up at each call, not bound at import.)"""
    lookup = resolver or socket.getaddrinfo
    try:
        infos = lookup(target.host, target.port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise Unreachable(f"{target.host} does not resolve: {error}") from None
    if not infos:
        raise Unreachable(f"{target.host} does not resolve")
    for info in infos:
        check_address(str(info[4][0]), policy)
    return tuple(infos[0])


def _items(value: str | Iterable[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


def _ip(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _embedded_ipv4(ip: Address) -> Address:
    """The IPv4 address an IPv6 one stands for (v4-mapped, NAT64), else the address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _kind(ip: Address) -> str:
    for name in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    return "non-public"  # e.g. CGNAT 100.64.0.0/10, documentation ranges


def _allowed_host(entry: str) -> tuple[str, int | None]:
    text = entry.strip().lower()
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    host = host.rstrip(".")
    if not _HOST.match(host) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise InvalidConfiguration(
            "PROBE_ALLOWED_HOSTS", f"{entry!r} is not a host name or host:port"
        )
    return host, int(port) if port else None


def _network(entry: str) -> Network:
    try:
        return ipaddress.ip_network(entry.strip(), strict=True)
    except ValueError as error:
        raise InvalidConfiguration("PROBE_ALLOWED_NETWORKS", f"{entry!r}: {error}") from None


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port is not None else shown
