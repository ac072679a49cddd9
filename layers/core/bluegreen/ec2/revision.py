"""Optional first act of an EC2 switch: install the release on the idle fleet.

A CodeDeploy EC2/on-premises *in-place* deployment to the idle fleet's deployment group
(appspec.yml + hook scripts on each instance: nginx reload, draining, deep health check),
started once and followed by the state machine with Wait states until it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BlueGreenError

DONE = "Succeeded"
FAILED_STATES = ("Failed", "Stopped")


class RevisionFailed(BlueGreenError):
    """The CodeDeploy deployment of the revision to the idle fleet failed or timed out."""


def deploy_revision(
    codedeploy: Any, revision: Mapping[str, Any], deployment_id: str
) -> dict[str, Any]:
    """Start the in-place deployment; idempotent per switch (reuses a started one)."""
    existing = _started_by(codedeploy, revision, deployment_id)
    if existing:
        return {"codeDeployDeploymentId": existing, "polls": 0, "done": False}
    created = codedeploy.create_deployment(
        applicationName=revision["application"],
        deploymentGroupName=revision["deploymentGroup"],
        revision=dict(revision["revision"]),
        description=f"bluegreen switch {deployment_id}",
    )
    return {"codeDeployDeploymentId": created["deploymentId"], "polls": 0, "done": False}


def _started_by(codedeploy: Any, revision: Mapping[str, Any], deployment_id: str) -> str | None:
    listed = codedeploy.list_deployments(
        applicationName=revision["application"],
        deploymentGroupName=revision["deploymentGroup"],
        includeOnlyStatuses=["Created", "Queued", "InProgress", "Ready", "Succeeded"],
    )
    for candidate in listed.get("deployments", []):
        info = codedeploy.get_deployment(deploymentId=candidate)["deploymentInfo"]
        if info.get("description") == f"bluegreen switch {deployment_id}":
            return str(candidate)
    return None


def check_revision(
    codedeploy: Any, revision: Mapping[str, Any], progress: Mapping[str, Any]
) -> dict[str, Any]:
    """One poll: done, still running, or RevisionFailed (failure or timeout)."""
    info = codedeploy.get_deployment(deploymentId=progress["codeDeployDeploymentId"])[
        "deploymentInfo"
    ]
    status = info["status"]
    polls = int(progress.get("polls", 0)) + 1
    if status == DONE:
        return {**progress, "polls": polls, "done": True, "status": status}
    if status in FAILED_STATES:
        error = info.get("errorInformation", {})
        raise RevisionFailed(
            f"CodeDeploy deployment {progress['codeDeployDeploymentId']} to "
            f"{revision['application']}/{revision['deploymentGroup']} ended {status}: "
            f"{error.get('code', '')} {error.get('message', '')}".strip()
        )
    if polls * int(revision["pollSeconds"]) >= int(revision["timeoutSeconds"]):
        raise RevisionFailed(
            f"CodeDeploy deployment {progress['codeDeployDeploymentId']} still {status} "
            f"after {revision['timeoutSeconds']} s"
        )
    return {**progress, "polls": polls, "done": False, "status": status}
