"""CodeDeployHook_<Event>: the five CodeDeploy ECS lifecycle hooks share this code.

Each function's `LIFECYCLE_EVENT` says which event it answers (the event CodeDeploy
sends does not). The layer runs the configured checks and reports exactly one status,
first; every AWS call is bounded by the invocation's remaining time.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import settings
from bluegreen.aws import Clients
from bluegreen.hooks.codedeploy import CodeDeployHookDeps, answer_codedeploy_hook
from bluegreen.hooks.guard import HOOK_CLIENT_CONFIG, Answered, CallGuard, idempotency_store
from bluegreen.hooks.settings import CodeDeployHookSettings, HookTableSettings

logger = Logger()
guard = CallGuard()
answered = Answered()  # this sandbox's answers: a repeat is answered from memory
clients = Clients(config=HOOK_CLIENT_CONFIG, guard=guard)


@logger.inject_lambda_context(correlation_id_path="DeploymentId", log_event=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = CodeDeployHookDeps(
        clients=clients,
        guard=guard,
        answered=answered,
        load_settings=lambda: settings.load(CodeDeployHookSettings),
        load_table=lambda: settings.load(HookTableSettings).DEPLOYMENTS_TABLE or None,
        store_for=lambda table: idempotency_store(clients.dynamodb, table, context.function_name),
    )
    return answer_codedeploy_hook(event, context, deps)
