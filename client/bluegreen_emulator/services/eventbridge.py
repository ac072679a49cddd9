"""Emulation of EventBridge delivering to Lambda and Step Functions targets.

moto's EventBridge matches rules and delivers to logs, SQS, archives and buses only
(moto_patches/events.py hands Lambda and Step Functions targets here). As AWS does:

- a Step Functions target starts an execution with the event (or the target's `Input`
  / `InputPath`) as its input;
- a Lambda target is invoked asynchronously: on a function error Lambda retries
  (`MaximumRetryAttempts`, default 2, about 1 then 2 minutes apart, on the emulated
  clock), then sends the event to the function's on-failure destination / DLQ;
- a target that does not exist sends the event to the target's dead-letter queue.

`journal` keeps every event put on any bus (the demo and tests read what the stack
announced), and `deliveries` each delivery's outcome.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.host import Host
    from ..stack.runtime import FunctionSpec


class EventBridgeDelivery:
    def __init__(self, host: Host) -> None:
        self.aws = host
        self.journal: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.on_event: list[Callable[[dict[str, Any]], None]] = []

    def record(self, entry: dict[str, Any]) -> None:
        """An entry of PutEvents, as the journal keeps it (before delivery)."""
        record = {
            "source": entry.get("Source"),
            "detail-type": entry.get("DetailType"),
            "detail": json.loads(entry.get("Detail") or "{}"),
            "bus": entry.get("EventBusName") or "default",
            "time": datetime.now(UTC).isoformat(),
        }
        self.journal.append(record)
        for listener in list(self.on_event):
            listener(record)

    def deliver(self, rule_name: str, target: dict[str, Any], event: dict[str, Any]) -> None:
        payload = target_input(target, event)
        arn = target["Arn"]
        if arn.startswith("arn:aws:states:"):
            self.aws.client("stepfunctions").start_execution(
                stateMachineArn=arn,
                name=f"events-{uuid.uuid4().hex[:16]}",
                input=json.dumps(payload),
            )
            self.deliveries.append({"rule": rule_name, "target": arn, "outcome": "started"})
            return
        try:
            spec = self.aws.runtime.find(arn)
        except KeyError as missing:
            self.dead_letter(
                target.get("DeadLetterConfig", {}).get("Arn"),
                event,
                "ResourceNotFoundException",
                str(missing),
            )
            self.deliveries.append({"rule": rule_name, "target": arn, "outcome": "dead-lettered"})
            return
        self._invoke_async_with_retries(rule_name, spec, payload)

    def _invoke_async_with_retries(self, rule_name: str, spec: FunctionSpec, payload: Any) -> None:
        """Lambda's asynchronous invocation: retries on function error, then the DLQ."""
        config = self._async_settings(spec)
        attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
        last = None
        for attempt in range(attempts):
            if attempt:
                self.aws.clock.sleep(60 * attempt)  # Lambda waits about 1 min, then 2 min
            last = self.aws.runtime.invoke(spec.name, payload)
            if last.error_type is None:
                self.deliveries.append(
                    {
                        "rule": rule_name,
                        "target": spec.name,
                        "outcome": "ok",
                        "attempts": attempt + 1,
                    }
                )
                return
        assert last is not None
        self.dead_letter(
            config.get("DeadLetterArn"), payload, last.error_type or "", last.payload.decode()
        )
        self.deliveries.append(
            {
                "rule": rule_name,
                "target": spec.name,
                "outcome": "dead-lettered",
                "attempts": attempts,
            }
        )

    def _async_settings(self, spec: FunctionSpec) -> dict[str, Any]:
        """The template's async-invoke settings, overridden by PutFunctionEventInvokeConfig
        (so `aws lambda put-function-event-invoke-config` works here as on AWS)."""
        settings = dict(self.aws.async_config.get(spec.name, {}))
        lam = self.aws.client("lambda")
        try:
            configured = lam.get_function_event_invoke_config(FunctionName=spec.name)
        except lam.exceptions.ResourceNotFoundException:
            return settings
        if "MaximumRetryAttempts" in configured:
            settings["MaximumRetryAttempts"] = configured["MaximumRetryAttempts"]
        on_failure = configured.get("DestinationConfig", {}).get("OnFailure", {})
        if on_failure.get("Destination"):
            settings["DeadLetterArn"] = on_failure["Destination"]
        return settings

    def dead_letter(self, queue_arn: str | None, event: Any, code: str, message: str) -> None:
        if not queue_arn:
            return
        name = queue_arn.rsplit(":", 1)[-1]
        sqs = self.aws.client("sqs")
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "ErrorCode": {"DataType": "String", "StringValue": code or "Unknown"},
                "ErrorMessage": {"DataType": "String", "StringValue": message[:1000] or "-"},
            },
        )


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    path = target.get("InputPath")
    if path:
        value: Any = event
        for part in path.removeprefix("$").strip(".").split("."):
            if part:
                value = value[part]
        return value
    return event
