"""The optional `revision` step: a CodeDeploy in-place deployment to the idle fleet first."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.platforms.alb import forward_weights
from bluegreen.store import Deployments
from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet

pytestmark = pytest.mark.integration

REVISION = {
    "application": "shop-app",
    "deploymentGroup": "shop-green",
    "revision": {
        "revisionType": "S3",
        "s3Location": {"bucket": "shop-releases", "key": "shop-v42.zip", "bundleType": "zip"},
    },
}


@pytest.fixture
def setup() -> Any:
    with Emulator() as aws:
        # the example fleet's CodeDeploy application and its in-place group per colour
        fleet = build_ec2_fleet(aws, with_http=False)
        yield aws, fleet


def _run(aws: Emulator, fleet: Ec2Fleet, name: str) -> dict[str, Any]:
    arn = aws.start_execution(
        aws.output("SwitchStateMachineArn"), fleet.request(revision=REVISION), name=name
    )
    return aws.wait_for_execution(arn)


def _listener_weights(aws: Emulator, fleet: Ec2Fleet) -> dict[str, int]:
    listener = aws.client("elbv2").describe_listeners(ListenerArns=[fleet.listener_arn])
    return forward_weights(listener["Listeners"][0]["DefaultActions"])


def test_revision_is_deployed_to_the_idle_fleet_before_any_traffic_moves(setup: Any) -> None:
    # Given a CodeDeploy EC2 deployment group for the idle (green) fleet
    aws, fleet = setup
    # When a switch names a revision
    result = _run(aws, fleet, "with-revision")
    # Then CodeDeploy deployed that revision to the green group, and the switch completed
    assert result["status"] == "SUCCEEDED"
    codedeploy = aws.client("codedeploy")
    deployments = codedeploy.list_deployments(
        applicationName="shop-app", deploymentGroupName="shop-green"
    )
    assert len(deployments["deployments"]) == 1
    info = codedeploy.get_deployment(deploymentId=deployments["deployments"][0])["deploymentInfo"]
    assert info["revision"]["s3Location"]["key"] == "shop-v42.zip"
    assert info["status"] == "Succeeded"
    record = Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName")).get(
        "with-revision"
    )
    phases = [step["phase"] for step in record["steps"]]
    assert phases.index("revision") < phases.index("shift")
    assert _listener_weights(aws, fleet) == {fleet.blue_arn: 0, fleet.green_arn: 100}


def test_a_failed_revision_ends_the_switch_before_any_weight_moves(setup: Any) -> None:
    # Given the in-place deployment to the green fleet will fail
    aws, fleet = setup
    aws.codedeploy_server_outcomes[("shop-app", "shop-green")] = "Failed"
    # When the switch runs
    result = _run(aws, fleet, "bad-revision")
    # Then it fails naming CodeDeploy, and production traffic never left blue
    assert result["status"] == "FAILED"
    assert result["error"] == "SwitchRolledBack.RevisionFailed"
    assert "CheckRevision" in result["cause"] and "ended Failed" in result["cause"]
    assert _listener_weights(aws, fleet) == {fleet.blue_arn: 100, fleet.green_arn: 0}
    record = Deployments(aws.client("dynamodb"), aws.output("DeploymentsTableName")).get(
        "bad-revision"
    )
    assert record["status"] == "ROLLED_BACK"
    assert not [s for s in record["steps"] if s["phase"] == "shift"]
