"""What an emulated service needs from the account it runs in: the host protocol.

Emulations (CodeDeploy ECS, ECS-native, the ALB data plane, EventBridge delivery, ...)
depend on this, never on the whole `Emulator`: the account's identity, its clock, a
boto3 client acting with the account's own authority (a service's, not a function's),
and the functions deployed in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..stack.runtime import LambdaRuntime
    from .clock import Clock


class Host(Protocol):
    account_id: str
    region: str
    clock: Clock
    runtime: LambdaRuntime  # the stack's functions: find, invoke
    # function name -> its asynchronous invocation settings (MaximumRetryAttempts, ...)
    async_config: dict[str, dict[str, Any]]

    def client(self, service: str) -> Any:
        """A boto3 client for the account, acting as the account (no function's role)."""
        ...
