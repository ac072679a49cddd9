"""IAM on every call (not moto: moto authorizes nothing unless told to, and then ignores
resources and conditions).

- botocore: every client's `before-call` asks the running emulator's IamEnforcement
  whether the calling role may make the call (`before-parameter-build` keeps the call's
  parameters as the API takes them); a denied call gets AWS's error response and botocore
  raises the service's `AccessDenied(Exception)` from it, without sending anything.
- moto's BotocoreStubber (where every mocked request arrives): the service answering a
  request acts as the account, not as the caller; and a request made as a role that did
  not go through the check is refused loudly, so no client can slip past IAM.
- moto's ExecutionWorker: a Step Functions execution calls AWS (its `lambda:invoke`,
  `events:putEvents` and `aws-sdk:*` tasks) as its state machine's role.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.handlers
from moto.core.botocore_stubber import BotocoreStubber
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from ..core import identity
from ..services.iam.enforce import AccessDenied, denial_response
from . import registry

_PARAMS = "bluegreen_iam_params"
_CHECKED = threading.local()  # the operation this thread's role was authorized for


def _keep_params(params: Any, context: Any = None, **_: Any) -> None:
    if context is not None:
        context[_PARAMS] = params


def _authorize(model: Any, context: Any = None, **_: Any) -> Any:
    principal = identity.current()
    enforcement = getattr(registry.ACTIVE, "iam", None)
    if principal is None or enforcement is None:
        return None
    params = (context or {}).get(_PARAMS, {})
    service = model.service_model.service_name
    try:
        enforcement.authorize(principal, service, model.name, params)
    except AccessDenied as denied:
        return denial_response(denied, model.service_model)
    _CHECKED.operation = (principal, model.name)
    return None


_HANDLERS = (("before-parameter-build", _keep_params), ("before-call", _authorize))


# 18. botocore: authorize each call of a role before it is sent (see the module docstring).
#     Clients of sessions created from now on get the handlers from BUILTIN_HANDLERS; the
#     default session, if one exists already, gets them registered now.
def _patch_botocore_authorization() -> None:
    botocore.handlers.BUILTIN_HANDLERS.extend(_HANDLERS)
    if boto3.DEFAULT_SESSION is not None:
        for event, handler in _HANDLERS:
            boto3.DEFAULT_SESSION._session.register(event, handler)


# 19. moto answers a request inside the caller's thread (BotocoreStubber.__call__): the
#     emulated service acts as the account while it does; a role's request that was not
#     authorized is refused. Every request answered is counted (Emulator.answered).
def _patch_stubber_identity() -> None:
    original = registry.ORIGINALS["BotocoreStubber.__call__"]

    def call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        if registry.ACTIVE is None:
            return original(self, event_name, request, **kwargs)
        principal = identity.current()
        operation = event_name.rsplit(".", 1)[-1]
        if principal is not None and getattr(_CHECKED, "operation", None) != (
            principal,
            operation,
        ):
            raise RuntimeError(
                f"{event_name} as {principal} reached the emulated account without an IAM "
                "check: its session lacks the emulator's botocore handlers"
            )
        checked = getattr(_CHECKED, "operation", None)
        registry.ACTIVE.answered += 1
        try:
            with identity.acting_as(None):
                return original(self, event_name, request, **kwargs)
        finally:  # a function the service ran meanwhile was checked for its own calls
            _CHECKED.operation = checked

    BotocoreStubber.__call__ = call  # type: ignore[method-assign]


# 20. moto runs an execution on a thread of its own (ExecutionWorker._execution_logic):
#     make its calls as the state machine's role, as Step Functions does.
def _patch_execution_identity() -> None:
    original = registry.ORIGINALS["ExecutionWorker._execution_logic"]

    def execution_logic(self: ExecutionWorker) -> None:
        if registry.ACTIVE is None:
            return original(self)  # type: ignore[no-any-return]
        role = self._evaluation_details.aws_execution_details.role_arn
        with identity.acting_as(role):
            return original(self)  # type: ignore[no-any-return]

    ExecutionWorker._execution_logic = execution_logic  # type: ignore[method-assign]


def apply() -> None:
    _patch_botocore_authorization()
    _patch_stubber_identity()
    _patch_execution_identity()
