"""Errors of the hook contracts (their class names are what Lambda reports)."""

from __future__ import annotations

from ..errors import BlueGreenError


class MalformedHookEvent(BlueGreenError):
    """The invocation event is not what CodeDeploy or ECS sends; names what is wrong."""


class HookReportFailed(BlueGreenError):
    """PutLifecycleEventHookExecutionStatus failed: raised so Lambda retries the hook."""


class OutOfTime(BlueGreenError):
    """The checks did not finish within the function's remaining time minus the margin."""


class NotAnEcsDeployment(BlueGreenError):
    """The CodeDeploy deployment is not an ECS blue/green deployment."""
