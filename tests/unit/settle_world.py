"""The world the settle tests run in: a real (moto, in-process) deployments table, a
platform adapter double whose read-back the test chooses, a Step Functions double, an
announcer that journals (and can refuse), and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bluegreen.store import Deployments
from bluegreen.switch.endings import EndingDeps
from tests.unit.moto_table import deployments_table

TABLE = "deployments"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop-alb/abc/def"
BLUE, GREEN = "arn:tg/blue", "arn:tg/green"
SNAPSHOT: dict[str, Any] = {
    "adapter": "alb",
    "routes": [{"kind": "listener", "arn": LISTENER, "actions": []}],
    "test": None,
}
T0 = 1_800_000_000.0


def execution(name: str) -> str:
    return f"arn:aws:states:us-east-1:1:execution:bluegreen-switch:{name}"


def machine(name: str = "d1") -> dict[str, Any]:
    return {"kind": "execution", "executionArn": execution(name)}


ALARM = {"kind": "alarm", "alarm": "shop-5xx", "claimKey": "shop-5xx@2026-12-01T10:00:00"}


@dataclass
class FakeAdapter:
    """A platform whose traffic the test sets: `serving` is what a read-back shows."""

    serving: list[str] = field(default_factory=lambda: ["from"])
    platform_status: str | None = None  # ECS: the platform deployment's status
    exact: bool = True
    calls: list[str] = field(default_factory=list)
    fail_restore: Exception | None = None

    def restore(self, snapshot: Any) -> str:
        self.calls.append("restore")
        if self.fail_restore is not None:
            raise self.fail_restore
        return "restored"

    def complete(self, plan: Any, snapshot: Any) -> str:
        self.calls.append("complete")
        return "completed"

    def observe(self, plan: Any, snapshot: Any) -> dict[str, Any]:
        self.calls.append("observe")
        side = self.serving.pop(0) if len(self.serving) > 1 else self.serving[0]
        observed = {"serving": side, "detail": f"serving {side}", "routes": []}
        if self.platform_status is not None:
            observed["platformStatus"] = self.platform_status
        return observed


class FakeStepFunctions:
    class exceptions:
        class ExecutionDoesNotExist(Exception):
            pass

    def __init__(self) -> None:
        self.stopped: list[tuple[str, str]] = []
        self.statuses: dict[str, str] = {}  # execution ARN -> status (default RUNNING)

    def stop_execution(self, executionArn: str, error: str, cause: str) -> None:
        self.stopped.append((executionArn, error))

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"executionArn": executionArn, "status": self.statuses.get(executionArn, "RUNNING")}

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"events": []}


@dataclass
class FakeClients:
    stepfunctions: FakeStepFunctions = field(default_factory=FakeStepFunctions)


@dataclass
class Announced:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: bool = False

    def announce(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("EventBridge refused the event")
        self.events.append((detail_type, detail))


@dataclass
class World:
    store: Deployments
    adapter: FakeAdapter
    clients: FakeClients
    announced: Announced
    now: list[float]

    def deps(self) -> EndingDeps:
        return EndingDeps(
            store=self.store,
            clients=self.clients,
            announcer=lambda: self.announced,  # type: ignore[arg-type,return-value]
            clock=lambda: self.now[0],
            adapters=lambda kind, clients: self.adapter,
        )

    def begin(self, name: str = "d1") -> None:
        self.store.begin(
            deployment_id=name,
            execution_arn=execution(name),
            lock_resources=[LISTENER],
            alarms=["shop-5xx"],
            record={"platform": "EC2", "adapter": "alb", "from": BLUE, "to": GREEN,
                    "snapshot": SNAPSHOT},
            guard=SNAPSHOT,
            lease_until=int(self.now[0]) + 600,
        )  # fmt: skip


@pytest.fixture(name="world")
def world_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with deployments_table(monkeypatch, TABLE) as dynamodb:
        now = [T0]
        yield World(
            Deployments(dynamodb, TABLE, clock=lambda: now[0]),
            FakeAdapter(),
            FakeClients(),
            Announced(),
            now,
        )
