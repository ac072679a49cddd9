"""Notifier: the stack's switch events (EventBridge) -> one readable SNS message each.

Created only when the stack has a `NotificationTopicArn`; the message is built by
`bluegreen.notify` (what, who, from -> to, why, figures, where to look).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.notify import notifier_deps, publish

logger = Logger()
deps = cache(notifier_deps)


@logger.inject_lambda_context(correlation_id_path="detail.deploymentId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    sent = publish(event, deps())
    logger.info("notified", detail_type=event.get("detail-type"), message_id=sent["messageId"])
    return sent
