"""AWS clients, created lazily and passed in explicitly.

Handlers hold one `Clients` per cold start; tests hand in their own. Nothing here runs
at import time.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10
)


class Clients:
    """Lazily created boto3 clients sharing one session.

    `config` bounds every call (timeouts, retries); `guard`, when given, is installed on
    every client created (the hooks' deadline check before each call)."""

    def __init__(self, session: Any = None, config: Config = _CONFIG, guard: Any = None) -> None:
        self._session = session
        self._config = config
        self._guard = guard

    @cached_property
    def session(self) -> Any:
        return self._session or boto3.session.Session()

    def _client(self, name: str) -> Any:
        client = self.session.client(name, config=self._config)
        if self._guard is not None:
            self._guard.install(client)
        return client

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def elbv2(self) -> Any:
        return self._client("elbv2")

    @cached_property
    def cloudwatch(self) -> Any:
        return self._client("cloudwatch")

    @cached_property
    def events(self) -> Any:
        return self._client("events")

    @cached_property
    def stepfunctions(self) -> Any:
        return self._client("stepfunctions")

    @cached_property
    def codedeploy(self) -> Any:
        return self._client("codedeploy")

    @cached_property
    def ecs(self) -> Any:
        return self._client("ecs")

    @cached_property
    def ssm(self) -> Any:
        return self._client("ssm")

    @cached_property
    def sns(self) -> Any:
        return self._client("sns")

    @cached_property
    def lambda_(self) -> Any:
        return self._client("lambda")
