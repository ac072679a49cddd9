"""A realistic EC2 blue/green setup in the emulated account, for the demo and the tests.

VPC with two subnets, an internet-facing ALB, a production listener (:80, default action
forwarding 100/0 to blue/green, plus a path rule for /api/*), a test listener (:8080,
forwarding to green), two target groups with instances (each "runs nginx in front of
app processes"), and CloudWatch alarms on the load balancer's target 5xx count and latency.

The instances' answers to HTTP probes come from `FleetHttp`, a small server on
127.0.0.1 that answers like the colour the test listener currently forwards to. Target
health can be set per instance (`set_health`), like nginx failing its health check.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .emulator import Emulator


@dataclass
class Ec2Fleet:
    vpc_id: str
    load_balancer_arn: str
    listener_arn: str
    rule_arn: str
    test_listener_arn: str
    blue_arn: str
    green_arn: str
    blue_instances: list[str]
    green_instances: list[str]
    alarms: list[str]
    versions: dict[str, str] = field(default_factory=dict)  # target group ARN -> app version
    http: FleetHttp | None = None

    def request(self, **overrides: Any) -> dict[str, Any]:
        """A typical switch request for this fleet; keyword arguments override fields."""
        request: dict[str, Any] = {
            "platform": "EC2",
            "listeners": [self.listener_arn],
            "rules": [self.rule_arn],
            "blueTargetGroupArn": self.blue_arn,
            "greenTargetGroupArn": self.green_arn,
            "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
            "alarms": list(self.alarms),
            "healthCheck": {"minHealthy": 2, "timeoutSeconds": 600},
            "requestedBy": "demo@example.com",
            "version": self.versions.get(self.green_arn, ""),
        }
        if self.http is not None:
            request["testTraffic"] = {
                "listenerArn": self.test_listener_arn,
                "probes": [
                    {"path": "/health/deep", "expect": 200},
                    {
                        "path": "/version",
                        "expect": 200,
                        "contains": self.versions.get(self.green_arn, ""),
                    },
                ],
            }
        request.update(overrides)
        return request


@dataclass
class AlbNetwork:
    """A VPC with two subnets in two zones and an internet-facing ALB in them."""

    vpc_id: str
    subnet_ids: list[str]
    security_group_id: str
    load_balancer: dict[str, Any]

    @property
    def load_balancer_arn(self) -> str:
        return str(self.load_balancer["LoadBalancerArn"])


def build_alb_network(aws: Emulator, name: str, cidr_prefix: str) -> AlbNetwork:
    """The network every emulated fleet stands in (`cidr_prefix` like "10.20")."""
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock=f"{cidr_prefix}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"{cidr_prefix}.{i}.0/24", AvailabilityZone=f"{aws.region}{az}"
        )["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    sg = ec2.create_security_group(GroupName=f"{name}-alb", Description="ALB", VpcId=vpc)["GroupId"]
    lb = elbv2.create_load_balancer(
        Name=f"{name}-alb", Subnets=subnets, SecurityGroups=[sg], Scheme="internet-facing"
    )["LoadBalancers"][0]
    return AlbNetwork(vpc, subnets, sg, lb)


def build_ec2_fleet(
    aws: Emulator, name: str = "shop", with_http: bool = True, per_colour: int = 2
) -> Ec2Fleet:
    ec2, elbv2, cloudwatch = aws.client("ec2"), aws.client("elbv2"), aws.client("cloudwatch")
    network = build_alb_network(aws, name, "10.20")
    vpc, subnets, lb = network.vpc_id, network.subnet_ids, network.load_balancer_arn
    groups = {}
    instances = {}
    for colour in ("blue", "green"):
        tg = elbv2.create_target_group(
            Name=f"{name}-{colour}",
            Protocol="HTTP",
            Port=80,
            VpcId=vpc,
            HealthCheckPath="/health",
            TargetType="instance",
        )["TargetGroups"][0]["TargetGroupArn"]
        ids = [
            i["InstanceId"]
            for i in ec2.run_instances(
                ImageId="ami-12c6146b",
                MinCount=per_colour,
                MaxCount=per_colour,
                InstanceType="t4g.small",
                SubnetId=subnets[0],
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "colour", "Value": colour},
                            {"Key": "role", "Value": "nginx+app"},
                        ],
                    }
                ],
            )["Instances"]
        ]
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": i, "Port": 80} for i in ids])
        groups[colour], instances[colour] = tg, ids

    def forward(weights: dict[str, int]) -> list[dict[str, Any]]:
        return [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": a, "Weight": w} for a, w in weights.items()]
                },
            }
        ]

    prod_weights = {groups["blue"]: 100, groups["green"]: 0}
    listener = elbv2.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=forward(prod_weights)
    )["Listeners"][0]["ListenerArn"]
    rule = elbv2.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
        Actions=forward(prod_weights),
    )["Rules"][0]["RuleArn"]
    test_listener = elbv2.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=8080, DefaultActions=forward({groups["green"]: 1})
    )["Listeners"][0]["ListenerArn"]
    alarms = []
    for alarm, metric, stat, threshold in (
        (f"{name}-5xx", "HTTPCode_Target_5XX_Count", "Sum", 10.0),
        (f"{name}-p99", "TargetResponseTime", "Average", 1.5),
    ):
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/ApplicationELB",
            MetricName=metric,
            Dimensions=[{"Name": "LoadBalancer", "Value": lb.split("loadbalancer/", 1)[1]}],
            Statistic=stat,
            Period=60,
            EvaluationPeriods=1,
            Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="baseline")
        alarms.append(alarm)
    fleet = Ec2Fleet(
        vpc_id=vpc,
        load_balancer_arn=lb,
        listener_arn=listener,
        rule_arn=rule,
        test_listener_arn=test_listener,
        blue_arn=groups["blue"],
        green_arn=groups["green"],
        blue_instances=instances["blue"],
        green_instances=instances["green"],
        alarms=alarms,
        versions={groups["blue"]: "v41", groups["green"]: "v42"},
    )
    if with_http:
        fleet.http = FleetHttp(aws, fleet)
        fleet.http.start()
        aws.cleanups.append(fleet.http.stop)
        # the instances answer behind the test listener: probes use the ALB's own address
        aws.alb_http.serve_with(network.load_balancer["DNSName"], 8080, fleet.http.server)
    return fleet


def set_health(
    aws: Emulator, target_group_arn: str, instance_id: str, state: str, reason: str = ""
) -> None:
    """Make an instance answer its health check like nginx would (healthy/unhealthy/...)."""
    aws.target_health[(target_group_arn, instance_id)] = (
        state,
        reason or "Target.FailedHealthChecks",
    )


class FleetHttp:
    """Answers HTTP probes like the instances behind the test listener would.

    `/health`, `/health/deep` and `/version` answer with the version of the target group
    the test listener forwards to. `broken` makes the deep health check fail.
    """

    def __init__(self, aws: Emulator, fleet: Ec2Fleet) -> None:
        self.aws = aws
        self.fleet = fleet
        self.broken: set[str] = set()
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def server(self) -> ThreadingHTTPServer:
        return self._server

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serving_group(self) -> str:
        listener = self.aws.client("elbv2").describe_listeners(
            ListenerArns=[self.fleet.test_listener_arn]
        )["Listeners"][0]
        groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        return str(max(groups, key=lambda g: g.get("Weight", 1))["TargetGroupArn"])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fleet_http = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fleet_http.requests.append(self.path)
                group = fleet_http._serving_group()
                version = fleet_http.fleet.versions.get(group, "unknown")
                status = 404
                body: dict[str, object] = {"error": "not found"}
                if self.path in {"/health", "/version"}:
                    status, body = 200, {"status": "ok", "version": version}
                elif self.path == "/health/deep":
                    broken = version in fleet_http.broken
                    status = 503 if broken else 200
                    body = {
                        "status": "failing" if broken else "ok",
                        "version": version,
                        "upstreams": 4,
                    }
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler
