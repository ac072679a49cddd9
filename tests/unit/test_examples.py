"""The example fleets (examples/ec2-fleet, examples/ecs-service) deploy what the bundle
needs, as the bundle needs it: cfn-lint clean; every resource the bundle acts on tagged
bluegreen:managed = BlueGreenStackName; target groups that pass the bundle's own fleet
checks; a switch request beside each template that the state machine's validator
accepts and whose fields the template's outputs provide; the EC2 instances running the
same nginx and PM2 config as the revision bundle."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bluegreen.checks.fleet import fleet_findings
from bluegreen.requests import parse_request
from bluegreen_emulator.stack.template import load_template

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEMPLATES = {
    "ec2-fleet": EXAMPLES / "ec2-fleet" / "template.yaml",
    "ecs-service": EXAMPLES / "ecs-service" / "template.yaml",
}
MANAGED = {  # what the bundle acts on (reads, switches, releases)
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ECS::Service",
    "AWS::CodeDeploy::Application",
    "AWS::CodeDeploy::DeploymentGroup",
}
REDIRECT_ONLY = {"HttpRedirectListener"}  # HTTP -> HTTPS: no target group, never switched


def template(name: str) -> dict[str, Any]:
    return load_template(TEMPLATES[name])


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_template_is_cfn_lint_clean(name: str) -> None:
    linter = Path(sys.executable).parent / "cfn-lint"
    checked = subprocess.run(
        [str(linter), str(TEMPLATES[name])], check=False, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_resource_the_bundle_acts_on_is_tagged_with_its_stack_name(name: str) -> None:
    resources = template(name)["Resources"]
    acted_on = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Type"] in MANAGED and logical_id not in REDIRECT_ONLY
    }
    expected = MANAGED - ({"AWS::ECS::Service"} if name == "ec2-fleet" else set())
    assert {r["Type"] for r in acted_on.values()} == expected
    for logical_id, resource in acted_on.items():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        assert tags.get("bluegreen:managed") == {"Ref": "BlueGreenStackName"}, logical_id
    assert template(name)["Parameters"]["BlueGreenStackName"]["Default"] == "bluegreen"


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_target_groups_pass_the_bundles_fleet_checks(name: str) -> None:
    # Given each target group as DescribeTargetGroups / ...Attributes would return it
    resources = template(name)["Resources"]
    groups = {k: r for k, r in resources.items() if r["Type"].endswith("::TargetGroup")}
    assert len(groups) == 2
    for logical_id, resource in groups.items():
        props = resource["Properties"]
        described = {**props, "TargetGroupName": logical_id}
        attributes = {a["Key"]: a["Value"] for a in props["TargetGroupAttributes"]}
        # When the fleet checks run with every target required healthy
        found = fleet_findings(described, attributes, min_healthy=2, registered=2)
        # Then no setting is below its safe value
        assert found == [], [f.message for f in found]


def test_the_ecs_service_has_both_controllers_with_what_each_needs() -> None:
    resources = template("ecs-service")["Resources"]
    service = resources["Service"]["Properties"]
    assert service["DeploymentController"] == {"Type": {"Ref": "DeploymentController"}}
    native, _ = service["DeploymentConfiguration"]["Fn::If"][1:]
    assert native["Strategy"] == "BLUE_GREEN"
    advanced = service["LoadBalancers"][0]["AdvancedConfiguration"]["Fn::If"][1]
    assert set(advanced) == {
        "AlternateTargetGroupArn",
        "ProductionListenerRule",
        "TestListenerRule",
        "RoleArn",
    }
    role = resources["EcsLoadBalancerRole"]["Properties"]
    assert any(
        "AmazonECSInfrastructureRolePolicyForLoadBalancers" in str(p)
        for p in role["ManagedPolicyArns"]
    )
    group = resources["DeploymentGroup"]
    assert group["Condition"] == "ByCodeDeploy"
    rollback = group["Properties"]["AutoRollbackConfiguration"]
    assert rollback == {
        "Enabled": True,
        "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    assert service["HealthCheckGracePeriodSeconds"] >= 30


def test_the_ec2_fleet_has_a_codedeploy_group_and_alarms_per_colour() -> None:
    resources = template("ec2-fleet")["Resources"]
    groups = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"
    ]
    assert sorted(g["DeploymentGroupName"]["Fn::Sub"] for g in groups) == [
        "${AppName}-blue",
        "${AppName}-green",
    ]
    for group in groups:
        assert group["DeploymentStyle"] == {
            "DeploymentType": "IN_PLACE",
            "DeploymentOption": "WITHOUT_TRAFFIC_CONTROL",
        }
    alarms = {
        r["Properties"]["AlarmName"]["Fn::Sub"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms == {
        "${AppName}-blue-5xx",
        "${AppName}-green-5xx",
        "${AppName}-blue-p99",
        "${AppName}-green-p99",
    }


def test_the_instances_run_the_revisions_nginx_and_pm2_config() -> None:
    # Given the launch template's user data (the copies a first boot writes)
    data = template("ec2-fleet")["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    user_data = data["UserData"]["Fn::Base64"]["Fn::Sub"]

    def heredoc(marker: str) -> str:
        match = re.search(rf"<<'{marker}'\n(.*?)\n{marker}\n", user_data, flags=re.S)
        assert match, f"no {marker} heredoc in the user data"
        return match.group(1) + "\n"

    # Then they are the revision bundle's files, byte for byte (four PM2 processes)
    config = EXAMPLES / "ec2-revision" / "config"
    assert heredoc("NGINX_SHOP") == (config / "nginx-shop.conf").read_text(encoding="utf-8")
    ecosystem = (config / "ecosystem.config.js").read_text(encoding="utf-8")
    assert heredoc("ECOSYSTEM") == ecosystem
    assert "instances: 4," in ecosystem


REQUESTS = {
    "ec2-fleet/switch-request.json": (
        "ec2-fleet",
        {
            "listeners": "ProductionListenerArn",
            "rules": "ApiRuleArn",
            "blueTargetGroupArn": "BlueTargetGroupArn",
            "greenTargetGroupArn": "GreenTargetGroupArn",
            "alarms": "GreenAlarmNames",
            "testTraffic": "TestListenerArn",
            "revision": "GreenDeploymentGroupName",
            "healthCheck": "InstancesPerColour",
        },
    ),
    "ecs-service/switch-request-codedeploy.json": (
        "ecs-service",
        {
            "cluster": "ClusterName",
            "service": "ServiceName",
            "container": "ContainerName",
            "alarms": "AlarmNames",
            "codeDeploy": "DeploymentGroupName",
            "hooks": "DesiredCount",
        },
    ),
    "ecs-service/switch-request-ecs-native.json": (
        "ecs-service",
        {"cluster": "ClusterName", "service": "ServiceName", "alarms": "AlarmNames"},
    ),
}


@pytest.mark.parametrize("path", sorted(REQUESTS))
def test_each_switch_request_is_valid_and_its_fields_come_from_outputs(path: str) -> None:
    # Given the request shipped next to the template
    raw = json.loads((EXAMPLES / path).read_text(encoding="utf-8"))
    name, fields = REQUESTS[path]

    # Then the state machine's validator accepts it
    request = parse_request(raw)
    assert request["platform"] in {"EC2", "ECS"}
    # and every field it needs has an output of the template to fill it from
    outputs = template(name)["Outputs"]
    for field, output in fields.items():
        assert field in raw, f"{path}: no {field}"
        assert output in outputs, f"{TEMPLATES[name]}: no output {output} for {field}"
    # and the README's table names those outputs
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for output in fields.values():
        assert f"`{output}`" in readme, f"examples/README.md does not name {output}"
