"""CodeDeploy EC2/on-premises in-place deployments: the EC2 switch's optional first act,
installing the release on the idle fleet (appspec.yml + hook scripts on each instance:
nginx reload, draining, deep health check) before any traffic moves to it.

Started once per switch (found again by its description if the task runs twice),
followed by the state machine with Wait states, and stopped by `settle` if the switch
ends while it still runs (the idle fleet serves no traffic, so stopping is enough).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BlueGreenError

DONE = "Succeeded"
FAILED_STATES = ("Failed", "Stopped")
RUNNING = ["Created", "Queued", "InProgress", "Ready"]


class RevisionFailed(BlueGreenError):
    """The CodeDeploy deployment of the revision to the idle fleet failed or timed out."""


def description(deployment_id: str) -> str:
    return f"bluegreen switch {deployment_id}"


@dataclass
class CodeDeployEc2:
    codedeploy: Any

    def deploy(self, revision: Mapping[str, Any], deployment_id: str) -> dict[str, Any]:
        """Start the in-place deployment; idempotent per switch (reuses a started one)."""
        existing = self._started_by(revision, deployment_id)
        if existing:
            return {"codeDeployDeploymentId": existing, "polls": 0, "done": False}
        created = self.codedeploy.create_deployment(
            applicationName=revision["application"],
            deploymentGroupName=revision["deploymentGroup"],
            revision=dict(revision["revision"]),
            description=description(deployment_id),
        )
        return {"codeDeployDeploymentId": created["deploymentId"], "polls": 0, "done": False}

    def _started_by(self, revision: Mapping[str, Any], deployment_id: str) -> str | None:
        listed = self.codedeploy.list_deployments(
            applicationName=revision["application"],
            deploymentGroupName=revision["deploymentGroup"],
            includeOnlyStatuses=[*RUNNING, DONE],
        )
        for candidate in listed.get("deployments", []):
            info = self.codedeploy.get_deployment(deploymentId=candidate)["deploymentInfo"]
            if info.get("description") == description(deployment_id):
                return str(candidate)
        return None

    def check(self, revision: Mapping[str, Any], progress: Mapping[str, Any]) -> dict[str, Any]:
        """One poll: done, still running, or RevisionFailed (failure or timeout)."""
        reference = progress["codeDeployDeploymentId"]
        info = self.codedeploy.get_deployment(deploymentId=reference)["deploymentInfo"]
        status = info["status"]
        polls = int(progress.get("polls", 0)) + 1
        if status == DONE:
            return {**progress, "polls": polls, "done": True, "status": status}
        where = f"{revision['application']}/{revision['deploymentGroup']}"
        if status in FAILED_STATES:
            error = info.get("errorInformation", {})
            raise RevisionFailed(
                f"CodeDeploy deployment {reference} to {where} ended {status}: "
                f"{error.get('code', '')} {error.get('message', '')}".strip()
            )
        if polls * int(revision["pollSeconds"]) >= int(revision["timeoutSeconds"]):
            raise RevisionFailed(
                f"CodeDeploy deployment {reference} still {status} after "
                f"{revision['timeoutSeconds']} s"
            )
        return {**progress, "polls": polls, "done": False, "status": status}

    def stop(self, reference: str) -> str:
        """Stop an install still running on the idle fleet (idempotent)."""
        info = self.codedeploy.get_deployment(deploymentId=reference)["deploymentInfo"]
        if info.get("status") not in RUNNING:
            return f"in-place deployment {reference} had already ended {info.get('status')}"
        try:
            self.codedeploy.stop_deployment(deploymentId=reference)
        except self.codedeploy.exceptions.DeploymentAlreadyCompletedException:
            return f"in-place deployment {reference} had already ended"
        return f"in-place deployment {reference} stopped"
