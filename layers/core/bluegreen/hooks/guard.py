"""Two guarantees every hook needs: a deadline, and at-most-once evaluation.

- `within(seconds, fn)` runs `fn` on a worker thread and stops waiting for it when the
  time is up (`OutOfTime`), so the caller still has time to answer.
- `Once` wraps Powertools idempotency: the same key (a CodeDeploy
  `LifecycleEventHookExecutionId`, or an ECS execution id + stage + attempt) is evaluated
  once; a repeat gets the stored answer, without re-running checks or reporting again.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    BaseError as IdempotencyError,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from .errors import OutOfTime

logger = Logger(child=True)
T = TypeVar("T")
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


def within(seconds: float, fn: Callable[[], T]) -> T:
    """Run `fn`, giving up (not killing it) after `seconds`."""
    if seconds <= 0:
        raise OutOfTime("no time left to run the checks before the function times out")
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="checks")
    future = executor.submit(fn)
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise OutOfTime(f"the checks did not finish within {seconds:.1f}s") from None
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


class Once:
    """Evaluate a payload at most once per idempotency key (Powertools idempotency)."""

    IN_PROGRESS: ClassVar[dict[str, Any]] = {"duplicate": True, "inProgress": True}

    def __init__(self, store: BasePersistenceLayer | None, key_path: str, context: Any) -> None:
        self.store = store
        self.key_path = key_path
        self.context = context

    def run(self, payload: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
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
        except IdempotencyError as error:
            if answered:  # answered, but the answer could not be stored: keep the answer
                logger.warning("answered; could not store the idempotency record", error=str(error))
                return answered[-1]
            if entered:  # the evaluation itself failed; its error is chained to this one
                raise
            # The store failed before anything ran: answering matters more than
            # deduplicating (CodeDeploy refuses a second status for the same execution).
            logger.warning("idempotency store unavailable; answering without it", error=str(error))
            return fn()


def idempotency_store(dynamodb: Any, table: str, function_name: str) -> BasePersistenceLayer:
    """Idempotency records in the DeploymentsTable, under `pk = IDEMPOTENCY#<function>`
    (never clashing with deployment records), expiring through the table's TTL."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=f"IDEMPOTENCY#{function_name}",
        expiry_attr="expiresAt",
        boto3_client=dynamodb,
    )
