"""CodeDeployHook_<Event>: the five CodeDeploy ECS lifecycle hooks share this code.

Each function's `LIFECYCLE_EVENT` says which event it answers (the event CodeDeploy
sends does not). The layer runs the configured checks and reports exactly one status.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import settings
from bluegreen.aws import Clients
from bluegreen.hooks.codedeploy import CodeDeployHookDeps, answer_codedeploy_hook
from bluegreen.hooks.guard import idempotency_store
from bluegreen.hooks.settings import CodeDeployHookSettings

logger = Logger()
clients = Clients()


@logger.inject_lambda_context(correlation_id_path="DeploymentId", log_event=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = CodeDeployHookDeps(
        clients=clients,
        load_settings=lambda: settings.load(CodeDeployHookSettings),
        store_for=lambda s: idempotency_store(
            clients.dynamodb, s.DEPLOYMENTS_TABLE, context.function_name
        ),
    )
    return answer_codedeploy_hook(event, context, deps)
