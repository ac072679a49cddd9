"""Each hook's verdict, kept in the DeploymentsTable for the deployment's record.

CodeDeploy's `PutLifecycleEventHookExecutionStatus` carries only Succeeded/Failed; the
reason would be lost in the hook's logs. So each answer is also written (best effort,
never delaying or preventing the answer) at `pk = HOOKVERDICT#<deployment>`,
`sk = <lifecycle event or ECS stage>`: status, reason, time; it expires with the
table's TTL. The switch's record reads it to say which hook failed and why.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(child=True)
VERDICT_PK = "HOOKVERDICT#{}"
KEEP_SECONDS = 30 * 24 * 3600


class VerdictLog:
    def __init__(self, dynamodb: Any, table: str, deployment: str, event: str) -> None:
        self.dynamodb, self.table, self.deployment, self.event = dynamodb, table, deployment, event

    def write(self, status: str, reason: str) -> None:
        """Record the verdict; a failure is logged, never raised (the answer comes first)."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": VERDICT_PK.format(self.deployment)},
                    "sk": {"S": self.event},
                    "status": {"S": status},
                    "reason": {"S": reason[:2000] or "-"},
                    "at": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
                    "expiresAt": {"N": str(int(time.time()) + KEEP_SECONDS)},
                },
            )
        except (ClientError, BotoCoreError) as error:
            logger.warning("could not record the hook verdict", error=str(error))
