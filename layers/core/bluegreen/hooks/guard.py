"""Two guarantees every hook needs: a bounded invocation, and at-most-once answering.

**Bounded, with no thread.** The checks run on the invocation's own thread. Every AWS call
the hook makes goes through a guard (`CallGuard`, a botocore `before-call` handler) that
refuses the call once the current deadline has passed, and every call is itself bounded
by the hook clients' timeouts (`HOOK_CLIENT_CONFIG`: at most `CALL_SECONDS`); an HTTP
probe's timeout is cut to the time left. So nothing keeps running after the invocation
returns (a thawed sandbox makes no stale calls), and the time the checks may take is the
invocation's remaining time less `reserve_seconds()`: one call's worst case for the
last check call plus one for the report.

**Once.** The same key (a CodeDeploy `LifecycleEventHookExecutionId`, or an ECS
execution id + stage + attempt) is answered once: Powertools idempotency in the
deployments table, with an in-sandbox memory in front of it (and instead of it when the
table is not configured), so even a misconfigured function reports once per execution.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    BaseError as IdempotencyError,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from botocore.config import Config

from ..checks.model import Deadline
from ..store import keys
from .errors import OutOfTime

logger = Logger(child=True)
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
CONNECT_SECONDS, READ_SECONDS, ATTEMPTS = 2, 5, 2
# the longest one AWS call of a hook can take: every attempt times out, plus back-off
CALL_SECONDS = ATTEMPTS * (CONNECT_SECONDS + READ_SECONDS) + 1
HOOK_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": ATTEMPTS},
    connect_timeout=CONNECT_SECONDS,
    read_timeout=READ_SECONDS,
)


def reserve_seconds(margin: float) -> float:
    """What the checks leave of the invocation: the last check call's worst case, the
    report's worst case, and the configured margin."""
    return 2 * CALL_SECONDS + margin


def deadline_of(context: Any, reserve: float) -> Deadline:
    """A deadline `reserve` seconds before the invocation's end, on the clock the
    invocation itself is timed by (its context)."""

    def spent() -> float:
        return reserve - context.get_remaining_time_in_millis() / 1000

    return Deadline(at=0.0, clock=spent)


class CallGuard:
    """Refuses AWS calls past the current deadline (install once per client)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def install(self, client: Any) -> Any:
        client.meta.events.register("before-call", self._before_call)
        return client

    def set(self, deadline: Deadline | None) -> None:
        self._local.deadline = deadline

    def _before_call(self, model: Any = None, **_: Any) -> None:
        deadline: Deadline | None = getattr(self._local, "deadline", None)
        if deadline is not None and deadline.expired():
            name = getattr(model, "name", "a call")
            raise OutOfTime(f"no time left for {name} before the function times out")


class Answered:
    """Answers given in this sandbox, by idempotency key (bounded, most recent kept).

    One per sandbox: the handler module creates it at import (a cold start), so it lives
    exactly as long as the sandbox, and two sandboxes (or two accounts emulated in one
    process) never share it."""

    LIMIT = 2048

    def __init__(self) -> None:
        self._answers: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._answers.get(key)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

    def put(self, key: str, answer: dict[str, Any]) -> None:
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.LIMIT:
                self._answers.popitem(last=False)


class Once:
    """Answer a payload at most once per idempotency key."""

    IN_PROGRESS: ClassVar[dict[str, Any]] = {"duplicate": True, "inProgress": True}

    def __init__(
        self,
        store: BasePersistenceLayer | None,
        key_path: str,
        context: Any,
        key: Callable[[dict[str, Any]], str],
        answered: Answered,
    ) -> None:
        self.store = store
        self.answered = answered
        self.key_path = key_path
        self.context = context
        self.key = key

    def run(self, payload: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        key = f"{getattr(self.context, 'function_name', '')}:{self.key(payload)}"
        seen = self.answered.get(key)
        if seen is not None:
            logger.info("answered before in this sandbox; not answering twice")
            return {**seen, "duplicate": True}
        answer = self._run(payload, fn)
        if not answer.get("inProgress"):
            self.answered.put(key, {k: v for k, v in answer.items() if k != "duplicate"})
        return answer

    def _run(self, payload: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if self.store is None:
            return fn()
        config = IdempotencyConfig(
            event_key_jmespath=self.key_path,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
            response_hook=lambda response, _record: {**response, "duplicate": True},
        )
        if self.context is not None:
            config.register_lambda_context(self.context)
        entered: list[bool] = []
        answered: list[dict[str, Any]] = []

        @idempotent_function(
            data_keyword_argument="payload", persistence_store=self.store, config=config
        )
        def evaluate_once(payload: dict[str, Any]) -> dict[str, Any]:
            entered.append(True)
            answered.append(fn())
            return answered[-1]

        try:
            return dict(evaluate_once(payload=payload))
        except IdempotencyAlreadyInProgressError:
            logger.warning("a concurrent invocation is answering this hook; not answering twice")
            return dict(self.IN_PROGRESS)
        except (IdempotencyError, OutOfTime) as error:
            if answered:  # answered, but the answer could not be stored: keep the answer
                logger.warning("answered; could not store the idempotency record", error=str(error))
                return answered[-1]
            if entered:  # the evaluation itself failed; its error is chained to this one
                raise
            # The store failed before anything ran: answering matters more than
            # deduplicating (the sandbox memory still stops a repeat here).
            logger.warning("idempotency store unavailable; answering without it", error=str(error))
            return fn()


def idempotency_store(dynamodb: Any, table: str, function_name: str) -> BasePersistenceLayer:
    """Idempotency records in the deployments table, under `IDEMPOTENCY#<function>`
    (never clashing with deployment records), expiring through the table's TTL."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=keys.idempotency_partition(function_name),
        expiry_attr="expiresAt",
        boto3_client=dynamodb,
    )
