"""The example fleets deploy into the emulator from their own templates.

examples/ec2-fleet/template.yaml and examples/ecs-service/template.yaml go through the
emulator's stack deployer (the one that deploys the bundle), resource by resource, as
CloudFormation would create them; what a switch relies on is then read back from the
emulated account through the AWS APIs, as the template declares it. A template the
emulator cannot deploy as written is refused, naming what, before anything is created.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.stack.cloudformation import deploy_stack
from bluegreen_emulator.stack.deploy import DeployedStack
from bluegreen_emulator.stack.template import TemplateError

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EC2 = ROOT / "examples" / "ec2-fleet" / "template.yaml"
ECS = ROOT / "examples" / "ecs-service" / "template.yaml"


@pytest.fixture(scope="module")
def account() -> Iterator[Emulator]:
    with Emulator() as aws:
        yield aws


@pytest.fixture(scope="module")
def ec2(account: Emulator) -> DeployedStack:
    return deploy_stack(account, "shop-fleet", EC2, {"AppName": "shop"})


def forward(actions: list[dict[str, Any]]) -> dict[str, int]:
    groups = actions[0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


def test_the_ec2_fleet_serves_on_blue_with_green_idle_behind_the_test_listener(
    account: Emulator, ec2: DeployedStack
) -> None:
    elbv2 = account.client("elbv2")
    out = ec2.outputs
    # Then production (listener and /api/* rule) is on blue, the test listener on green
    listener = elbv2.describe_listeners(ListenerArns=[out["ProductionListenerArn"]])["Listeners"]
    assert (listener[0]["Port"], listener[0]["Protocol"]) == (80, "HTTP")
    assert forward(listener[0]["DefaultActions"]) == {"shop-blue": 100, "shop-green": 0}
    rule = elbv2.describe_rules(RuleArns=[out["ApiRuleArn"]])["Rules"][0]
    assert rule["Priority"] == "10"
    assert rule["Conditions"][0]["PathPatternConfig"]["Values"] == ["/api/*"]
    assert forward(rule["Actions"]) == {"shop-blue": 100, "shop-green": 0}
    test = elbv2.describe_listeners(ListenerArns=[out["TestListenerArn"]])["Listeners"][0]
    assert test["Port"] == 8080
    assert forward(test["DefaultActions"]) == {"shop-blue": 0, "shop-green": 1}
    # and each colour's Auto Scaling group registered its instances, healthy
    for colour in ("Blue", "Green"):
        health = elbv2.describe_target_health(TargetGroupArn=out[f"{colour}TargetGroupArn"])
        states = [t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]]
        assert states == ["healthy", "healthy"]


def test_the_target_groups_carry_the_settings_the_switch_relies_on(
    account: Emulator, ec2: DeployedStack
) -> None:
    elbv2 = account.client("elbv2")
    arn = ec2.outputs["GreenTargetGroupArn"]
    group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
    assert {
        key: group[key]
        for key in (
            "HealthCheckPath",
            "HealthCheckIntervalSeconds",
            "HealthCheckTimeoutSeconds",
            "HealthyThresholdCount",
            "UnhealthyThresholdCount",
            "Matcher",
            "TargetType",
        )
    } == {
        "HealthCheckPath": "/health",
        "HealthCheckIntervalSeconds": 10,
        "HealthCheckTimeoutSeconds": 5,
        "HealthyThresholdCount": 3,
        "UnhealthyThresholdCount": 2,
        "Matcher": {"HttpCode": "200"},
        "TargetType": "instance",
    }
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    }
    assert attributes["deregistration_delay.timeout_seconds"] == "60"
    assert attributes["load_balancing.algorithm.type"] == "least_outstanding_requests"
    tags = elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    assert {"Key": "bluegreen:managed", "Value": "bluegreen"} in tags
    # and the outputs give the dimension values CloudWatch uses
    assert ec2.outputs["GreenTargetGroupFullName"] == arn.split(":", 5)[5]
    assert ec2.outputs["LoadBalancerFullName"].startswith("app/shop-alb/")


def test_the_ec2_fleet_network_instances_releases_and_alarms(
    account: Emulator, ec2: DeployedStack
) -> None:
    ec2_api = account.client("ec2")
    # Two public subnets in two zones of the region (Fn::GetAZs, Fn::Select)
    subnets = ec2_api.describe_subnets(
        SubnetIds=[ec2.physical_id("SubnetA"), ec2.physical_id("SubnetB")]
    )["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == ["us-east-1a", "us-east-1b"]
    assert all(s["MapPublicIpOnLaunch"] for s in subnets)
    # the instances accept nginx's port from the load balancer only, and nothing else
    group = ec2_api.describe_security_groups(GroupIds=[ec2.physical_id("InstanceSecurityGroup")])[
        "SecurityGroups"
    ][0]
    [ingress] = group["IpPermissions"]
    assert (ingress["FromPort"], ingress["ToPort"]) == (80, 80)
    assert ingress["UserIdGroupPairs"][0]["GroupId"] == ec2.physical_id("LoadBalancerSecurityGroup")
    assert sorted(p["FromPort"] for p in group["IpPermissionsEgress"]) == [80, 443]
    # the launch template boots the AMI the SSM parameter names, with the user data
    version = ec2_api.describe_launch_template_versions(
        LaunchTemplateId=ec2.physical_id("LaunchTemplate")
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    ami = account.client("ssm").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    )["Parameter"]["Value"]
    assert version["ImageId"] == ami
    assert version["MetadataOptions"]["HttpTokens"] == "required"
    assert "pm2 start" in __import__("base64").b64decode(version["UserData"]).decode()
    # CodeDeploy deploys in place to each colour's Auto Scaling group
    group_info = account.client("codedeploy").get_deployment_group(
        applicationName="shop-app", deploymentGroupName="shop-green"
    )["deploymentGroupInfo"]
    assert group_info["autoScalingGroups"][0]["name"] == "shop-green"
    assert group_info["deploymentStyle"]["deploymentType"] == "IN_PLACE"
    # the release bucket is versioned, encrypted and private
    s3 = account.client("s3")
    bucket = ec2.outputs["ReleaseBucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"][
        "BlockPublicAcls"
    ]
    # each colour has its 5xx and p99 alarms on its own target group
    alarms = account.client("cloudwatch").describe_alarms(AlarmNames=["shop-green-p99"])
    [alarm] = alarms["MetricAlarms"]
    assert alarm["ExtendedStatistic"] == "p99"
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions["TargetGroup"] == ec2.outputs["GreenTargetGroupFullName"]


def test_the_stack_is_a_cloudformation_stack_of_the_account(
    account: Emulator, ec2: DeployedStack
) -> None:
    described = account.client("cloudformation").describe_stacks(StackName="shop-fleet")
    [stack] = described["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == ec2.outputs
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert (parameters["AppName"], parameters["LiveColour"]) == ("shop", "blue")


@pytest.mark.parametrize("controller", ["CODE_DEPLOY", "ECS"])
def test_the_ecs_service_deploys_with_either_controller(account: Emulator, controller: str) -> None:
    # When the ECS example deploys with this controller
    name = f"svc{controller.lower().replace('_', '')}"
    stack = deploy_stack(
        account, f"{name}-service", ECS, {"AppName": name, "DeploymentController": controller}
    )
    out = stack.outputs
    ecs, elbv2 = account.client("ecs"), account.client("elbv2")

    # Then the service runs the task definition behind blue with that controller
    [service] = ecs.describe_services(cluster=out["ClusterName"], services=[out["ServiceName"]])[
        "services"
    ]
    assert service["deploymentController"]["type"] == controller
    assert service["taskDefinition"] == out["TaskDefinitionArn"]
    assert out["TaskDefinitionArn"].endswith(f":task-definition/{name}:1")
    [balanced] = service["loadBalancers"]
    assert (balanced["containerName"], balanced["containerPort"]) == ("app", 80)
    health = elbv2.describe_target_health(TargetGroupArn=out["BlueTargetGroupArn"])
    assert len(health["TargetHealthDescriptions"]) == 2  # DesiredCount tasks registered
    task = ecs.describe_task_definition(taskDefinition=out["TaskDefinitionArn"])["taskDefinition"]
    assert task["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"] == (
        f"/ecs/{name}"
    )
    if controller == "ECS":
        # with the alternate group and the rules ECS-native blue/green shifts
        advanced = balanced["advancedConfiguration"]
        assert advanced["alternateTargetGroupArn"] == out["GreenTargetGroupArn"]
        assert advanced["productionListenerRule"] == out["ProductionRuleArn"]
        assert advanced["testListenerRule"] == out["TestRuleArn"]
        assert "CodeDeployApplicationName" not in out
    else:
        # with CodeDeploy's group: both target groups, both listeners, rollback on alarm
        group = account.client("codedeploy").get_deployment_group(
            applicationName=out["CodeDeployApplicationName"],
            deploymentGroupName=out["DeploymentGroupName"],
        )["deploymentGroupInfo"]
        [pair] = group["loadBalancerInfo"]["targetGroupPairInfoList"]
        assert [g["name"] for g in pair["targetGroups"]] == [f"{name}-blue", f"{name}-green"]
        assert pair["testTrafficRoute"]["listenerArns"] == [out["TestListenerArn"]]
        assert group["autoRollbackConfiguration"]["events"] == [
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_ALARM",
        ]
        assert len(group["alarmConfiguration"]["alarms"]) == 4


def test_aws_cloudformation_create_stack_deploys_through_the_emulator(account: Emulator) -> None:
    # When a template is created through the CloudFormation API, as a person would
    cloudformation = account.client("cloudformation")
    cloudformation.create_stack(
        StackName="api-native",
        TemplateBody=ECS.read_text(encoding="utf-8"),
        Parameters=[
            {"ParameterKey": "AppName", "ParameterValue": "apinative"},
            {"ParameterKey": "DeploymentController", "ParameterValue": "ECS"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )

    # Then the emulator deployed it, and the stack's outputs are the deployed resources'
    [stack] = cloudformation.describe_stacks(StackName="api-native")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    rule = account.client("elbv2").describe_rules(RuleArns=[outputs["ProductionRuleArn"]])
    assert forward(rule["Rules"][0]["Actions"]) == {"apinative-blue": 100, "apinative-green": 0}


@pytest.mark.parametrize(
    ("template", "says"),
    [
        (
            {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}}}},
            "resource types the emulator cannot deploy: ['AWS::RDS::DBInstance']",
        ),
        (
            {
                "Resources": {
                    "Vpc": {
                        "Type": "AWS::EC2::VPC",
                        "Properties": {"CidrBlock": "10.9.0.0/16", "Ipv4IpamPoolId": "x"},
                    }
                }
            },
            "Vpc (AWS::EC2::VPC): properties the emulator does not deploy: ['Ipv4IpamPoolId']",
        ),
        (
            {
                "Parameters": {"Name": {"Type": "String", "AllowedPattern": "^[a-z]+$"}},
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            },
            "parameter Name='Shop' does not match ^[a-z]+$",
        ),
        (
            {
                "Resources": {
                    "A": {"Type": "AWS::EC2::SecurityGroup", "DependsOn": "B"},
                    "B": {"Type": "AWS::EC2::SecurityGroup", "DependsOn": "A"},
                }
            },
            "resources that reference each other in a cycle: ['A', 'B']",
        ),
    ],
)
def test_a_template_the_emulator_cannot_deploy_as_written_is_refused_naming_what(
    account: Emulator, template: dict[str, Any], says: str
) -> None:
    vpcs_before = len(account.client("ec2").describe_vpcs()["Vpcs"])
    parameters = {"Name": "Shop"} if "Parameters" in template else {}
    with pytest.raises(TemplateError) as refused:
        deploy_stack(account, "refused", json.dumps(template), parameters)
    assert says in str(refused.value)
    assert len(account.client("ec2").describe_vpcs()["Vpcs"]) == vpcs_before
    assert all(
        s["StackName"] != "refused"
        for s in account.client("cloudformation").describe_stacks()["Stacks"]
    )
