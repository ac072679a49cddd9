"""The data plane of the emulated load balancers, for HTTP probes.

moto's ALBs have DNS names (`<name>-<n>.<region>.elb.amazonaws.com`) that resolve
nowhere. With the emulator running, such a name resolves (moto_patches/dns.py) to a small HTTP
server on 127.0.0.1, one per listener, that routes each request like the ALB would: the
listener's rules in priority order (host-header and path-pattern conditions), else its
default action, to the target group with the highest forward weight. It then answers
as the tasks in that target group would:

- by default `200` with a JSON body naming the target group and the task definition of
  the ECS task set (or ECS-native revision) registered in it, e.g.
  `{"targetGroup": "shop-green", "taskDefinition": "...:task-definition/web:2"}`;
- or as a test told it: `respond(target_group_arn, status=503, body="...", delay_ms=50)`.

Code under test just opens `http://<ALB DNS name>:<port>/path`: nothing in it knows.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from moto.ecs.models import ecs_backends

if TYPE_CHECKING:
    from ..core.host import Host

ELB_SUFFIX = ".elb.amazonaws.com"


@dataclass
class Answer:
    status: int = 200
    body: str | None = None
    delay_ms: int = 0


@dataclass(frozen=True)
class Served:
    listener_arn: str
    target_group_arn: str | None
    path: str
    host: str
    status: int


class AlbHttp:
    def __init__(
        self, host: Host, native_revision_in: Callable[[str], str | None] | None = None
    ) -> None:
        self.aws = host
        # the ECS-native emulation's answer: which task definition serves a target group
        self._native_revision_in = native_revision_in
        self.answers: dict[str, Answer] = {}
        self.served: list[Served] = []
        self._servers: dict[tuple[str, int], ThreadingHTTPServer] = {}
        self._lock = threading.Lock()

    # -- test control ----------------------------------------------------------------------
    def respond(
        self, target_group_arn: str, status: int = 200, body: str | None = None, delay_ms: int = 0
    ) -> None:
        """Make the tasks behind `target_group_arn` answer like this."""
        self.answers[target_group_arn] = Answer(status, body, delay_ms)

    # -- resolution (called from the patched socket.getaddrinfo) ---------------------------
    def resolve(self, host: str, port: Any) -> int | None:
        """The local port serving `host:port`, or None if it is not an emulated listener."""
        if not host.endswith(ELB_SUFFIX):
            return None
        try:
            wanted = int(port) if port is not None else 80
        except (TypeError, ValueError):
            return None
        with self._lock:
            if (host, wanted) in self._servers:
                return int(self._servers[(host, wanted)].server_address[1])
            listener = self._find_listener(host, wanted)
            if listener is None:
                return None
            server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(listener))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            self._servers[(host, wanted)] = server
            return int(server.server_address[1])

    def serve_with(self, host: str, port: int, server: ThreadingHTTPServer) -> None:
        """Answer `host:port` with `server` (an EC2 fleet's instances behind a listener)."""
        with self._lock:
            self._servers[(host, port)] = server

    def stop(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.shutdown()
                server.server_close()
            self._servers.clear()

    def _find_listener(self, dns: str, port: int) -> str | None:
        elbv2 = self.aws.client("elbv2")
        for lb in elbv2.describe_load_balancers()["LoadBalancers"]:
            if lb["DNSName"] != dns:
                continue
            for listener in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
                "Listeners"
            ]:
                if int(listener["Port"]) == port:
                    return str(listener["ListenerArn"])
        return None

    # -- routing -----------------------------------------------------------------------------
    def route(self, listener_arn: str, host: str, path: str) -> str | None:
        """The target group a request for `host` + `path` on this listener goes to."""
        elbv2 = self.aws.client("elbv2")
        rules = elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]
        ordered = sorted(
            (r for r in rules if not r.get("IsDefault")), key=lambda r: int(r["Priority"])
        )
        for rule in ordered:
            if all(_matches(c, host, path) for c in rule.get("Conditions", [])):
                return _forward_target(rule.get("Actions", []))
        listener = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
        return _forward_target(listener.get("DefaultActions", []))

    def _answer(self, target_group: str | None) -> tuple[int, str, int]:
        if target_group is None:
            return 503, json.dumps({"error": "no target group"}), 0
        configured = self.answers.get(target_group)
        body = {
            "targetGroup": target_group.split("/")[-2],
            "taskDefinition": self._behind(target_group),
        }
        if configured is None:
            return 200, json.dumps(body), 0
        text = configured.body if configured.body is not None else json.dumps(body)
        return configured.status, text, configured.delay_ms

    def _behind(self, target_group: str) -> str | None:
        """The task definition whose tasks are registered in `target_group`."""
        if self._native_revision_in is not None:
            found = self._native_revision_in(target_group)
            if found:
                return str(found)
        backend = ecs_backends[self.aws.account_id][self.aws.region]
        newest = None
        for service in backend.services.values():
            for task_set in service.task_sets:
                registered = any(
                    lb.get("targetGroupArn") == target_group for lb in task_set.load_balancers
                )
                if registered and (newest is None or task_set.createdAt > newest.createdAt):
                    newest = task_set
        return newest.task_definition if newest is not None else None

    def _handler(self, listener_arn: str) -> type[BaseHTTPRequestHandler]:
        alb = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                path = self.path.split("?")[0]
                target_group = alb.route(listener_arn, host, path)
                status, body, delay_ms = alb._answer(target_group)
                alb.served.append(Served(listener_arn, target_group, path, host, status))
                if delay_ms:
                    time.sleep(delay_ms / 1000)
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


def _matches(condition: dict[str, Any], host: str, path: str) -> bool:
    field = condition.get("Field")
    if field == "host-header":
        values = (
            (condition.get("HostHeaderConfig") or {}).get("Values") or condition.get("Values") or []
        )
        return any(fnmatch.fnmatch(host.lower(), v.lower()) for v in values)
    if field == "path-pattern":
        values = (
            (condition.get("PathPatternConfig") or {}).get("Values")
            or condition.get("Values")
            or []
        )
        return any(fnmatch.fnmatchcase(path, v) for v in values)
    return False


def _forward_target(actions: list[dict[str, Any]]) -> str | None:
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return str(max(groups, key=lambda g: g.get("Weight", 1))["TargetGroupArn"])
        if action.get("TargetGroupArn"):
            return str(action["TargetGroupArn"])
    return None
