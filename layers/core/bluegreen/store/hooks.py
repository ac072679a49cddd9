"""What the hooks keep in the deployments table: the per-deployment hook configuration
the switch writes for CodeDeploy, and each hook's verdict with its reason.

CodeDeploy's `PutLifecycleEventHookExecutionStatus` carries only Succeeded/Failed; the
reason would be lost in the hook's logs. So each answer is also written, after it was
reported and within the time the invocation has left, at
`HOOKVERDICT#<platform deployment>` / `<lifecycle event or ECS stage>`; it expires with
the table's TTL. The switch reads them to say which hook failed and why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import clock as wall_clock
from . import keys

VERDICT_KEEP_SECONDS = 30 * 24 * 3600


def put_config(
    dynamodb: Any, table: str, platform_deployment: str, config: Mapping[str, Any], owner: str
) -> None:
    """The hook configuration of one CodeDeploy deployment, written by the switch."""
    dynamodb.put_item(
        TableName=table,
        Item={
            **keys.hook_config(platform_deployment),
            "config": {"S": json.dumps(dict(config))},
            "deploymentId": {"S": owner},
        },
    )


def get_config(dynamodb: Any, table: str, platform_deployment: str) -> str | None:
    """The stored configuration JSON of a deployment, or None."""
    item = dynamodb.get_item(
        TableName=table, Key=keys.hook_config(platform_deployment), ConsistentRead=True
    ).get("Item")
    if item is None:
        return None
    raw = item.get("config", {}).get("S")
    if raw is None:
        return ""
    return str(raw)


def config_source(platform_deployment: str) -> str:
    """How a configuration error names where the stored configuration came from."""
    return f"dynamodb:{keys.hook_config(platform_deployment)['pk']['S']}"


def put_verdict(
    dynamodb: Any,
    table: str,
    platform_deployment: str,
    event: str,
    status: str,
    reason: str,
    clock: Callable[[], float] = wall_clock.now,
) -> None:
    now = clock()
    dynamodb.put_item(
        TableName=table,
        Item={
            **keys.hook_verdict(platform_deployment, event),
            "status": {"S": status},
            "reason": {"S": reason[:2000] or "-"},
            "at": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))},
            "expiresAt": {"N": str(int(now) + VERDICT_KEEP_SECONDS)},
        },
    )


def verdicts(dynamodb: Any, table: str, platform_deployment: str) -> list[dict[str, str]]:
    """What each hook answered for one platform deployment, and why (one Query)."""
    response = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.hook_verdicts_of(platform_deployment)}},
        ConsistentRead=True,
    )
    return [
        {
            "event": item["sk"]["S"],
            "status": item["status"]["S"],
            "reason": item.get("reason", {}).get("S", ""),
        }
        for item in response.get("Items", [])
    ]
