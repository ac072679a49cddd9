"""A realistic ECS blue/green setup in the emulated account, for the demo and the tests.

VPC, an internet-facing ALB with a production listener (:80) and a test listener
(:8080), two `ip` target groups (blue serves, green idle), a cluster, task definition
revisions `web:1` (running) and `web:2` (the release), and a service behind blue, either

- `mode="CODE_DEPLOY"`: deployment controller CODE_DEPLOY, plus a CodeDeploy ECS
  application and deployment group (automatic rollback on failure and on stop; with
  `group_alarms=True` the group also stops the deployment when its alarm fires), or
- `mode="ECS"`: deployment controller ECS with listener *rules* for production and test
  traffic (ECS-native blue/green shifts rules, with an alternate target group).

HTTP answers come from `aws.alb_http` (by default, the task definition behind the
target group the listener forwards to).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .codedeploy import forward
from .emulator import Emulator
from .fleet import build_alb_network


@dataclass
class EcsFleet:
    cluster: str
    service: str
    service_arn: str
    load_balancer_arn: str
    dns_name: str
    prod_listener_arn: str
    test_listener_arn: str
    blue_arn: str
    green_arn: str
    task_definitions: list[str]
    alarms: list[str]
    application: str | None = None
    deployment_group: str | None = None
    prod_rule_arn: str | None = None
    test_rule_arn: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def release(self) -> str:
        return self.task_definitions[-1]

    def serving(self, aws: Emulator, listener_arn: str | None = None) -> dict[str, int]:
        """{target group name: weight} the production listener (or given one) forwards to."""
        elbv2 = aws.client("elbv2")
        listener = listener_arn or self.prod_listener_arn
        if self.prod_rule_arn and listener == self.prod_listener_arn:
            actions = elbv2.describe_rules(RuleArns=[self.prod_rule_arn])["Rules"][0]["Actions"]
        elif self.test_rule_arn and listener == self.test_listener_arn:
            actions = elbv2.describe_rules(RuleArns=[self.test_rule_arn])["Rules"][0]["Actions"]
        else:
            actions = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0][
                "DefaultActions"
            ]
        groups = actions[0]["ForwardConfig"]["TargetGroups"]
        return {g["TargetGroupArn"].split("/")[-2]: int(g["Weight"]) for g in groups if g["Weight"]}


def build_ecs_fleet(
    aws: Emulator,
    name: str = "web",
    mode: str = "CODE_DEPLOY",
    desired: int = 2,
    group_alarms: bool = False,
) -> EcsFleet:
    elbv2, ecs = aws.client("elbv2"), aws.client("ecs")
    network = build_alb_network(aws, name, "10.30")
    vpc, lb = network.vpc_id, network.load_balancer
    groups = {
        colour: elbv2.create_target_group(
            Name=f"{name}-{colour}",
            Protocol="HTTP",
            Port=80,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
        )["TargetGroups"][0]["TargetGroupArn"]
        for colour in ("blue", "green")
    }
    blue, green = groups["blue"], groups["green"]
    prod = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=forward({blue: 100}),
    )["Listeners"][0]["ListenerArn"]
    test = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=8080,
        DefaultActions=forward({blue: 100}),
    )["Listeners"][0]["ListenerArn"]
    ecs.create_cluster(clusterName=f"{name}-cluster")
    task_definitions = [
        ecs.register_task_definition(
            family=name,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": f"example/{name}:{v}",
                    "portMappings": [{"containerPort": 80}],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        for v in ("1.0", "2.0")
    ]
    fleet = EcsFleet(
        cluster=f"{name}-cluster",
        service=name,
        service_arn="",
        load_balancer_arn=lb["LoadBalancerArn"],
        dns_name=lb["DNSName"],
        prod_listener_arn=prod,
        test_listener_arn=test,
        blue_arn=blue,
        green_arn=green,
        task_definitions=task_definitions,
        alarms=[],
    )
    cloudwatch = aws.client("cloudwatch")
    alarm = f"{name}-5xx"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="baseline")
    fleet.alarms.append(alarm)
    load_balancer = {"targetGroupArn": blue, "containerName": "app", "containerPort": 80}
    if mode == "CODE_DEPLOY":
        service = ecs.create_service(
            cluster=fleet.cluster,
            serviceName=name,
            taskDefinition=task_definitions[0],
            desiredCount=desired,
            launchType="FARGATE",
            deploymentController={"type": "CODE_DEPLOY"},
            loadBalancers=[load_balancer],
        )["service"]
        fleet.service_arn = service["serviceArn"]
        _codedeploy_group(aws, fleet, group_alarms)
        aws.codedeploy_emulation.adopt(fleet.cluster, fleet.service)
    else:
        fleet.prod_rule_arn = elbv2.create_rule(
            ListenerArn=prod,
            Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
            Actions=forward({blue: 100, green: 0}),
        )["Rules"][0]["RuleArn"]
        fleet.test_rule_arn = elbv2.create_rule(
            ListenerArn=test,
            Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
            Actions=forward({blue: 100, green: 0}),
        )["Rules"][0]["RuleArn"]
        service = ecs.create_service(
            cluster=fleet.cluster,
            serviceName=name,
            taskDefinition=task_definitions[0],
            desiredCount=desired,
            launchType="FARGATE",
            deploymentController={"type": "ECS"},
            loadBalancers=[
                {
                    **load_balancer,
                    "advancedConfiguration": {
                        "alternateTargetGroupArn": green,
                        "productionListenerRule": fleet.prod_rule_arn,
                        "testListenerRule": fleet.test_rule_arn,
                        "roleArn": f"arn:aws:iam::{aws.account_id}:role/ecs-infrastructure",
                    },
                }
            ],
        )["service"]
        fleet.service_arn = service["serviceArn"]
        aws.ecs_emulation.adopt(fleet.cluster, fleet.service)
    return fleet


def _codedeploy_group(aws: Emulator, fleet: EcsFleet, group_alarms: bool) -> None:
    codedeploy = aws.client("codedeploy")
    fleet.application = f"{fleet.service}-app"
    fleet.deployment_group = f"{fleet.service}-dg"
    codedeploy.create_application(applicationName=fleet.application, computePlatform="ECS")
    codedeploy.create_deployment_group(
        applicationName=fleet.application,
        deploymentGroupName=fleet.deployment_group,
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        serviceRoleArn=f"arn:aws:iam::{aws.account_id}:role/codedeploy-ecs",
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 5,
            },
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
        },
        autoRollbackConfiguration={
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"],
        },
        ecsServices=[{"serviceName": fleet.service, "clusterName": fleet.cluster}],
        alarmConfiguration={
            "enabled": group_alarms,
            "alarms": [{"name": alarm} for alarm in fleet.alarms],
        },
        loadBalancerInfo={
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [
                        {"name": fleet.blue_arn.split("/")[-2]},
                        {"name": fleet.green_arn.split("/")[-2]},
                    ],
                    "prodTrafficRoute": {"listenerArns": [fleet.prod_listener_arn]},
                    "testTrafficRoute": {"listenerArns": [fleet.test_listener_arn]},
                }
            ]
        },
    )
