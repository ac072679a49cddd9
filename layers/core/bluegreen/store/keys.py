"""Every item type of the deployments table and its key format, in one place.

| item            | pk                                 | sk             |
|-----------------|------------------------------------|----------------|
| lock (lease)    | `LOCK#<listener or service ARN>`   | `LOCK`         |
| record          | `DEPLOY#<deployment id>`           | `RECORD`       |
| alarm guard     | `ALARM#<alarm name>`               | `DEPLOY#<id>`  |
| hook config     | `HOOKCONFIG#<platform deployment>` | `CONFIG`       |
| hook verdict    | `HOOKVERDICT#<platform deployment>`| `<event/stage>`|
| idempotency     | `IDEMPOTENCY#<function name>`      | (Powertools)   |

Nothing outside `bluegreen.store` builds a key; the template's IAM conditions on
`dynamodb:LeadingKeys` are checked against `PREFIXES` by a test.
"""

from __future__ import annotations

from typing import Any

LOCK = "LOCK#"
RECORD = "DEPLOY#"
GUARD = "ALARM#"
HOOK_CONFIG = "HOOKCONFIG#"
HOOK_VERDICT = "HOOKVERDICT#"
IDEMPOTENCY = "IDEMPOTENCY#"
PREFIXES = (LOCK, RECORD, GUARD, HOOK_CONFIG, HOOK_VERDICT, IDEMPOTENCY)

Key = dict[str, Any]


def lock(resource_arn: str) -> Key:
    return {"pk": {"S": f"{LOCK}{resource_arn}"}, "sk": {"S": "LOCK"}}


def record(deployment_id: str) -> Key:
    return {"pk": {"S": f"{RECORD}{deployment_id}"}, "sk": {"S": "RECORD"}}


def guard(alarm_name: str, deployment_id: str) -> Key:
    return {"pk": {"S": f"{GUARD}{alarm_name}"}, "sk": {"S": f"{RECORD}{deployment_id}"}}


def guards_of(alarm_name: str) -> str:
    """The partition holding every guard of one alarm (one Query)."""
    return f"{GUARD}{alarm_name}"


def hook_config(platform_deployment: str) -> Key:
    return {"pk": {"S": f"{HOOK_CONFIG}{platform_deployment}"}, "sk": {"S": "CONFIG"}}


def hook_verdict(platform_deployment: str, event: str) -> Key:
    return {"pk": {"S": f"{HOOK_VERDICT}{platform_deployment}"}, "sk": {"S": event}}


def hook_verdicts_of(platform_deployment: str) -> str:
    return f"{HOOK_VERDICT}{platform_deployment}"


def idempotency_partition(function_name: str) -> str:
    return f"{IDEMPOTENCY}{function_name}"
