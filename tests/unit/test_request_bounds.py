"""The request schema's bounds keep the largest valid switch inside AWS's limits.

The largest valid EC2 request (every list at its maximum count, every string at its
maximum length) is parsed and planned by the real code; the plan is the Step Functions
state every later state carries (limit 256 KiB), and the deployment record is one
DynamoDB item (limit 400 KiB) that grows by one shift and one gate entry per step. Both
must stay well under: the state at most 60 % of its limit, the item at most 75 % of its
limit (a gate entry records every verdict's figures, and bake extensions add gates). The
begin transaction must also fit TransactWriteItems' 100 items (one lock per listener, one
guard per alarm, the record).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from bluegreen import approval
from bluegreen.checks import Colours, comparative_analysis
from bluegreen.checks.alarms import alarms_check
from bluegreen.checks.analysis_config import parse_analysis_config
from bluegreen.checks.model import CheckResult
from bluegreen.checks.targets import group_health
from bluegreen.checks.thresholds import metric_threshold
from bluegreen.checks.traffic import synthetic_traffic
from bluegreen.ec2 import switch
from bluegreen.platforms.alb import AlbAdapter
from bluegreen.registry import TAG_KEY, Registry
from bluegreen.requests import parse_request
from bluegreen.requests.schema import schema
from bluegreen.switch.ec2_gate import recorded, summary
from bluegreen.switch.plan import MAX_STEPS

pytestmark = pytest.mark.unit

STATE_LIMIT = 256 * 1024
ITEM_LIMIT = 400 * 1024
DEFS = schema()["definitions"]
EC2 = DEFS["ec2Request"]["properties"]


def _max(name: str) -> int:
    return int(DEFS[name]["maxLength"])


def _count(schema_node: dict[str, Any]) -> int:
    return int(schema_node["maxItems"])


PREFIX = "arn:aws-" + "x" * 12 + ":elasticloadbalancing:" + "r" * 32 + ":123456789012:"
NAME, HEX = "n" * 32, "a" * 32


def listener(i: int) -> str:
    return f"{PREFIX}listener/app/{NAME}/{HEX}/{i:032x}"


def rule(i: int) -> str:
    return f"{PREFIX}listener-rule/app/{NAME}/{HEX}/{1:032x}/{i:032x}"


def group(i: int) -> str:
    return f"{PREFIX}targetgroup/{NAME[:-1]}{i}/{HEX}"


LB = f"{PREFIX}loadbalancer/app/{NAME}/{HEX}"
TEST = listener(999)


MAX_EXTENSIONS = DEFS["whenInconclusive"]["properties"]["maxExtensions"]["maximum"]


def largest_probe() -> dict[str, Any]:
    probe = DEFS["probe"]["properties"]
    return {
        "path": "/" + "p" * (_max("probePath") - 1),
        "expectStatus": 200,
        "expectBody": "c" * probe["expectBody"]["maxLength"],
        "maxLatencyMs": 60000,
        "timeoutSeconds": 30,
    }


def largest_analysis() -> dict[str, Any]:
    """Every signal: the error rate, the most latency percentiles, the most custom
    metrics, each with the longest names the schema allows."""
    analysis = DEFS["analysis"]["properties"]
    custom = analysis["metrics"]["items"]["properties"]
    name, value = "n" * _max("metricName"), "v" * _max("dimensionValue")
    return {
        "signals": ["errorRate", "latency"],
        "latency": {
            "stats": [
                f"p{n}.999"
                for n in range(90, 90 + _count(analysis["latency"]["properties"]["stats"]))
            ]
        },
        "metrics": [
            {
                "id": f"m{i:02d}" + "x" * (custom["id"]["maxLength"] - 3),
                "namespace": name,
                "metricName": name,
                "stat": "p99.999",
                "dimensions": {
                    f"{j:03d}" + name[3:]: value
                    for j in range(custom["dimensions"]["maxProperties"])
                },
                "colour": {"dimension": name, "green": "g" * _max("dimensionValue"), "blue": value},
            }
            for i in range(_count(analysis["metrics"]))
        ],
    }


def largest_request() -> dict[str, Any]:
    text = "t" * _max("label")
    steps = _count(DEFS["explicitSteps"]["properties"]["steps"])
    metric = {
        "id": "m" * _max("checkId"),
        "type": "custom",
        "threshold": 1e15,
        "metric": {
            "namespace": "s" * _max("metricName"),
            "name": "s" * _max("metricName"),
            "dimensions": {
                f"{i:03d}" + "d" * (_max("metricName") - 3): "v" * _max("dimensionValue")
                for i in range(
                    DEFS["metricCheck"]["properties"]["metric"]["properties"]["dimensions"][
                        "maxProperties"
                    ]
                )
            },
        },
    }
    return {
        "platform": "EC2",
        "listeners": [listener(i) for i in range(_count(EC2["listeners"]))],
        "rules": [rule(i) for i in range(_count(EC2["rules"]))],
        "blueTargetGroupArn": group(1),
        "greenTargetGroupArn": group(2),
        "strategy": {
            "type": "steps",
            "steps": [{"percent": 100 * (i + 1) // steps, "bakeSeconds": 1} for i in range(steps)],
        },
        "alarms": [
            f"{i:02d}" + "a" * (_max("alarmName") - 2) for i in range(_count(DEFS["alarms"]))
        ],
        "metricChecks": [
            dict(metric, id=f"{i}{metric['id'][1:]}") for i in range(_count(EC2["metricChecks"]))
        ],
        "healthCheck": {"minHealthy": 1000, "timeoutSeconds": 7200, "pollSeconds": 5},
        "testTraffic": {
            "listenerArn": TEST,
            "probes": [largest_probe()] * _count(DEFS["testTraffic"]["properties"]["probes"]),
        },
        "productionTraffic": {
            "probes": [largest_probe()] * _count(DEFS["productionTraffic"]["properties"]["probes"])
        },
        "analysis": largest_analysis(),
        "whenInconclusive": {
            "extendSeconds": 86400,
            "maxExtensions": MAX_EXTENSIONS,
            "then": "fail",
        },
        "syntheticTraffic": {
            "path": "/" + "p" * (_max("probePath") - 1),
            "maxErrors": 1_000_000,
            "colours": {"blue": "b" * 256, "green": "g" * 256},
        },
        "approval": {"required": True, "timeoutSeconds": 604800},
        "revision": {
            "application": "a" * 100,
            "deploymentGroup": "g" * 100,
            "revision": {  # the largest the registry lets the idle fleet install: from S3
                "revisionType": "S3",
                "s3Location": {
                    "bucket": "b" * 63,
                    "key": "k" * 1024,
                    "bundleType": "zip",
                    "version": "v" * 1024,
                    "eTag": "e" * 1024,
                },
            },
        },
        "requestedBy": text,
        "version": text,
        "description": "d" * _max("description"),
    }


class NotFound(Exception):
    pass


class Elbv2:
    """ELB answering for the largest request: every route forwards 100/0 to blue/green,
    with an authenticate-oidc action first (the largest actions a route carries)."""

    class exceptions:  # botocore's naming
        ListenerNotFoundException = NotFound
        RuleNotFoundException = NotFound
        TargetGroupNotFoundException = NotFound

    ACTIONS: ClassVar[list[dict[str, Any]]] = [
        {
            "Type": "authenticate-oidc",
            "Order": 1,
            "AuthenticateOidcConfig": {
                "Issuer": "https://" + "i" * 200,
                "AuthorizationEndpoint": "https://" + "a" * 200,
                "TokenEndpoint": "https://" + "t" * 200,
                "UserInfoEndpoint": "https://" + "u" * 200,
                "ClientId": "c" * 100,
            },
        },
        {
            "Type": "forward",
            "Order": 2,
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": group(1), "Weight": 100},
                    {"TargetGroupArn": group(2), "Weight": 0},
                ]
            },
        },
    ]

    def describe_listeners(self, ListenerArns: list[str]) -> dict[str, Any]:
        return {
            "Listeners": [
                {"ListenerArn": a, "LoadBalancerArn": LB, "Protocol": "HTTP", "Port": 80,
                 "DefaultActions": self.ACTIONS}
                for a in ListenerArns
            ]
        }  # fmt: skip

    def describe_rules(self, RuleArns: list[str]) -> dict[str, Any]:
        return {"Rules": [{"RuleArn": a, "Actions": self.ACTIONS} for a in RuleArns]}

    def describe_target_groups(self, TargetGroupArns: list[str]) -> dict[str, Any]:
        return {
            "TargetGroups": [
                {"TargetGroupArn": a, "TargetGroupName": a.split("/")[-2],
                 "LoadBalancerArns": [LB], "VpcId": "vpc-1"}
                for a in TargetGroupArns
            ]
        }  # fmt: skip

    def describe_tags(self, ResourceArns: list[str]) -> dict[str, Any]:
        tags = [{"Key": TAG_KEY, "Value": "bluegreen"}]
        return {"TagDescriptions": [{"ResourceArn": a, "Tags": tags} for a in ResourceArns]}

    def describe_load_balancers(self, LoadBalancerArns: list[str]) -> dict[str, Any]:
        return {"LoadBalancers": [{"LoadBalancerArn": LB, "VpcId": "vpc-1", "DNSName": "x"}]}

    def describe_target_group_attributes(self, TargetGroupArn: str) -> dict[str, Any]:
        # AWS's default delay, longer than the fleet checks' bound: a finding in the plan
        return {"Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}]}

    def describe_target_health(self, TargetGroupArn: str) -> dict[str, Any]:
        unhealthy = {"State": "unhealthy", "Reason": "Target.FailedHealthChecks",
                     "Description": "d" * 200}  # fmt: skip
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": f"i-{i:017x}"}, "TargetHealth": unhealthy} for i in range(1000)
            ]
        }


class CloudWatch:
    def get_paginator(self, _: str) -> Any:
        return self

    def paginate(self, AlarmNames: list[str], **_: Any) -> list[dict[str, Any]]:
        return [{"MetricAlarms": [{"AlarmName": n, "StateValue": "OK"} for n in AlarmNames]}]


class CodeDeploy:
    class exceptions:  # botocore's naming
        ApplicationDoesNotExistException = NotFound
        DeploymentGroupDoesNotExistException = NotFound

    def get_deployment_group(self, **_: Any) -> dict[str, Any]:
        return {"deploymentGroupInfo": {}}

    def list_tags_for_resource(self, ResourceArn: str) -> dict[str, Any]:
        return {"Tags": [{"Key": TAG_KEY, "Value": "bluegreen"}]}


def size(value: Any) -> int:
    return len(json.dumps(value).encode())


# the largest answer an approver can have kept: every field at its bound
LARGEST_APPROVAL = approval.kept(
    approval.answer(
        approval.APPROVED,
        "b" * approval.MAX_IDENTITY,
        "c" * approval.MAX_COMMENT,
        "t" * approval.MAX_AT,
        "n" * approval.MAX_IDENTITY,
    ),
    approval.APPROVED,
)


def test_the_largest_valid_request_is_valid() -> None:
    parsed = parse_request(largest_request())
    assert len(parsed["steps"]) == MAX_STEPS
    assert len(parsed["listeners"]) + len(parsed["rules"]) == 10


def test_its_plan_stays_well_under_step_functions_state_limit() -> None:
    # Given the largest valid request, planned by the real Plan code
    deps = SimpleNamespace(
        elbv2=Elbv2(),
        cloudwatch=CloudWatch(),
        codedeploy=CodeDeploy(),
        registry=Registry(
            tag_value="bluegreen",
            load_balancers=f"{NAME[:4]}*",
            codedeploy_applications="a*",
            artifact_buckets=("b*",),
        ),
    )
    plan = switch.plan(parse_request(largest_request()), "d" * 80, "e" * 200, deps)
    plan["adapter"] = "alb"
    assert plan["fleetChecks"]["findings"], "the plan carries the idle group's findings"
    # When the machine carries it with Begin's snapshot of every route, its cursor,
    # health, progress and a failed state's error
    snapshot = AlbAdapter(deps.elbv2).snapshot(plan)  # type: ignore[arg-type]
    state = {
        "plan": plan,
        "begun": {"snapshot": snapshot, "startedAt": 0.0, "leaseUntil": 0},
        "progress": {"codeDeployDeploymentId": "d-" + "X" * 9, "polls": 60, "done": True},
        "approval": LARGEST_APPROVAL,
        "cursor": {"index": MAX_STEPS - 1, "last": True},
        "health": {"polls": 480},
        "failed": {"ShiftTraffic": {"Error": "GateFailed", "Cause": "c" * 32768}},
    }
    # Then it is at most 60 % of the 256 KiB limit
    assert size(state) <= STATE_LIMIT * 60 // 100, size(state)


class MetricsCloudWatch(CloudWatch):
    """CloudWatch with data for every query in every period, and every alarm in ALARM
    with the longest reason it can give (the figures the gates record grow with them)."""

    firing = False

    def paginate(self, AlarmNames: list[str], **_: Any) -> list[dict[str, Any]]:
        state = {"StateValue": "ALARM", "StateReason": "r" * 1023} if self.firing else {}
        return [
            {"MetricAlarms": [{"AlarmName": n, "StateValue": "OK", **state} for n in AlarmNames]}
        ]

    def get_metric_data(
        self, MetricDataQueries: list[dict[str, Any]], StartTime: Any, EndTime: Any, **_: Any
    ) -> dict[str, Any]:
        periods = int((EndTime - StartTime).total_seconds()) // 60
        stamps = [StartTime + timedelta(minutes=i) for i in range(periods)]
        return {
            "MetricDataResults": [
                {
                    "Id": q["Id"],
                    "Timestamps": stamps,
                    "Values": [1000.0 + i for i in range(periods)],
                }
                for q in MetricDataQueries
            ]
        }


def _probed(request: dict[str, Any], ok: bool) -> CheckResult:
    """The production probes' verdict as `run_probes` words it: every probe through every
    production listener, each answer with the longest URL and reason."""
    answers = [
        {"url": f"http://{'h' * 253}:65535{p['path']}", "ok": ok, "status": 200 if ok else 599,
         "ms": 30000, "reason": f"{p['path']}: body does not contain {p['expectBody']!r}"}
        for _ in request["listeners"] for p in request["productionTraffic"]["probes"]
    ]  # fmt: skip
    if ok:
        reason = f"{len(answers)} probe(s) answered as expected, slowest 30000 ms"
        return CheckResult.passed("productionProbes", reason, probes=answers)
    return CheckResult.failed(
        "productionProbes", "; ".join(a["reason"] for a in answers[:5]), probes=answers
    )


def _gate(
    request: dict[str, Any], cloudwatch: MetricsCloudWatch, end: datetime
) -> list[CheckResult]:
    """Every verdict of one gate, from the engine's own checks."""
    start = end - timedelta(hours=6)
    every_status = {str(code): 1 for code in range(100, 600)}
    many = {"requests": 10**9, "errors": 10**9}
    load = {**many, "connectionErrors": 10**9, "statuses": every_status,
            "byColour": {"blue": many, "green": many}}  # fmt: skip
    results = [alarms_check(cloudwatch, request["alarms"]), group_health(Elbv2(), group(2), 1000)]
    results += [metric_threshold(cloudwatch, c, group(2), LB, end) for c in request["metricChecks"]]
    config = parse_analysis_config(request["analysis"])
    results.append(
        comparative_analysis(cloudwatch, Colours(LB, group(2), group(1)), start, end, config)
    )
    results.append(_probed(request, ok=not cloudwatch.firing))
    results.append(synthetic_traffic(load, 0))
    return results


def _step_entries(request: dict[str, Any]) -> list[dict[str, Any]]:
    """What the switch appends to the record (the shapes of switch/ec2.py and ec2_gate.py):
    per step a shift with the weights read back from every route and the production
    probes, and a gate with every verdict; each bake extension the request allows (over
    the whole switch) adds one more gate; the last gate fails with every alarm firing."""
    routes = [("listener", a) for a in request["listeners"]] + [
        ("rule", a) for a in request["rules"]
    ]
    cloudwatch, end = MetricsCloudWatch(), datetime(2026, 1, 1, tzinfo=UTC)
    at = "2026-01-01T00:00:00.000000+00:00"
    entries: list[dict[str, Any]] = []
    gates = MAX_STEPS + request["whenInconclusive"]["maxExtensions"]
    for index in range(MAX_STEPS):
        observed = [
            {"kind": k, "arn": a, "weights": {group(1): 95, group(2): 5}} for k, a in routes
        ]
        probed = recorded(_probed(request, True))
        entries.append({"phase": "shift", "index": index, "percent": 5, "observed": observed,
                        "shiftedAt": at, "verdicts": [probed], "at": at})  # fmt: skip
    for extension in range(gates):
        cloudwatch.firing = extension == gates - 1
        decided = extension < MAX_STEPS - 1 or cloudwatch.firing  # one decision per step
        verdicts = _gate(request, cloudwatch, end)
        entries.append({"phase": "gate", "index": MAX_STEPS - 1, "percent": 5,
                        "window": {"start": at, "end": at}, "extension": extension,
                        "outcome": "INCONCLUSIVE", "decision": "pass" if decided else "extend",
                        "verdicts": [recorded(v) if decided else summary(v) for v in verdicts],
                        "at": at})  # fmt: skip
    probes = [
        {"url": f"http://{'h' * 253}:65535{p['path']}", "ok": False, "status": 599, "ms": 30000,
         "reason": f"body does not contain {p['expectBody']!r}"}
        for p in request["testTraffic"]["probes"]
    ]  # fmt: skip
    entries.insert(
        0,
        {
            "phase": "test-traffic",
            "verdicts": [{"check": "httpProbes", "details": {"probes": probes}}],
        },
    )
    return entries


def test_its_record_stays_well_under_dynamodbs_item_limit() -> None:
    # Given the largest request, its begin record (with the snapshot of every route) and
    # every entry its steps append
    request = parse_request(largest_request())
    routes = Elbv2().describe_listeners(request["listeners"])["Listeners"]
    snapshot = [
        {"kind": "listener", "arn": r["ListenerArn"], "actions": r["DefaultActions"]}
        for r in routes
    ] * 2  # listeners, rules and the test listener, generously
    body = {"platform": "EC2", "requestedBy": request["requestedBy"], "version": request["version"],
            "description": request["description"], "strategy": request["strategy"],
            "plannedSteps": [s["percent"] for s in request["steps"]],
            "snapshot": {"routes": snapshot, "test": snapshot[:1]},
            "locks": request["listeners"] + [TEST], "alarms": request["alarms"]}  # fmt: skip
    outcome = {"failedAt": "Gate", "error": "GateFailed", "cause": "c" * 32768,
               "restored": [{"kind": k, "arn": a, "weights": {group(1): 100, group(2): 0}}
                            for k, a in [("rule", x) for x in request["rules"]]]}  # fmt: skip
    item = {
        "pk": "DEPLOYMENT#" + "d" * 80, "sk": "RECORD", "status": "ROLLED_BACK",
        "body": json.dumps(body), "outcome": json.dumps(outcome),
        "approval": json.dumps({**LARGEST_APPROVAL, "since": "x" * 32}),
        "steps": [json.dumps(e) for e in _step_entries(request)],
    }  # fmt: skip
    # Then the item (attribute names and values, as DynamoDB counts) is at most 75 % of it
    item_size = sum(len(k) + sum(len(v.encode()) for v in ([x] if isinstance(x, str) else x))
                    for k, x in item.items())  # fmt: skip
    assert item_size <= ITEM_LIMIT * 75 // 100, item_size


def test_the_begin_transaction_fits_in_one_transact_write_items_call() -> None:
    # one lock per listener the routes are on (at most every listener and the test
    # listener), one guard per alarm, and the record
    items = _count(EC2["listeners"]) + 1 + _count(DEFS["alarms"]) + 1
    items += _count(EC2["rules"])  # if every rule were on a listener of its own
    assert items <= 100
