"""First state of the switch: refuse bad input before anything changes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.switch.request import parse_request

logger = Logger()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_request(event)
    logger.info("switch request is valid", platform=request["platform"])
    return request
