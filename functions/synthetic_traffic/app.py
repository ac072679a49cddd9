"""Synthetic traffic during a switch: a bounded load through the production listener.

The switch's state machine starts this function once, asynchronously; each invocation
sends its share of the load, then hands its counts to a new invocation of itself, until
the switch ends (see `bluegreen.synthetic`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import settings
from bluegreen.aws import Clients
from bluegreen.checks.http import PinnedTransport
from bluegreen.checks.reach import ReachPolicy
from bluegreen.store import Deployments
from bluegreen.switch import task_input as given
from bluegreen.synthetic import SyntheticDeps, event_payload, run
from bluegreen.wiring import SwitchSettings

logger = Logger()
clients = Clients()


@logger.inject_lambda_context(correlation_id_path="plan.deploymentId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = given.plan(event)
    config = settings.load(SwitchSettings)
    reach = ReachPolicy.from_settings(config.PROBE_ALLOWED_HOSTS, config.PROBE_ALLOWED_NETWORKS)
    deps = SyntheticDeps(
        elbv2=clients.elbv2,
        store=Deployments(clients.dynamodb, config.DEPLOYMENTS_TABLE),
        transport=PinnedTransport(reach),
        reach=reach,
        hand_over=lambda payload: clients.lambda_.invoke(
            FunctionName=context.invoked_function_arn,
            InvocationType="Event",
            Payload=event_payload(payload["plan"], payload["state"]),
        ),
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    return run(plan, given.optional_obj(event, "state"), deps)
