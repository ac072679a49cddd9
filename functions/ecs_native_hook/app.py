"""The ECS-native blue/green lifecycle hook: returns `hookStatus` for each stage.

One function serves every stage (the event names it). The layer runs the configured
checks; a wait is answered IN_PROGRESS with a `callBackDelay`, never slept through, and
every AWS call is bounded by the invocation's remaining time.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import settings
from bluegreen.aws import Clients
from bluegreen.hooks.ecs_native import EcsNativeHookDeps, answer_ecs_native_hook
from bluegreen.hooks.guard import HOOK_CLIENT_CONFIG, Answered, CallGuard, idempotency_store
from bluegreen.hooks.settings import EcsNativeHookSettings, HookTableSettings

logger = Logger()
guard = CallGuard()
answered = Answered()  # this sandbox's answers: a repeat is answered from memory
clients = Clients(config=HOOK_CLIENT_CONFIG, guard=guard)


@logger.inject_lambda_context(correlation_id_path="resourceArn", log_event=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = EcsNativeHookDeps(
        clients=clients,
        guard=guard,
        answered=answered,
        load_settings=lambda: settings.load(EcsNativeHookSettings),
        load_table=lambda: settings.load(HookTableSettings).DEPLOYMENTS_TABLE or None,
        store_for=lambda table: idempotency_store(clients.dynamodb, table, context.function_name),
    )
    return answer_ecs_native_hook(event, context, deps)
