"""The checks of a request that need AWS: read-only, in the first state, before anything
is locked or written.

Every resource the request names must exist and hang together: the routes are on one
load balancer, a rule is a rule of a production listener (not a default rule, not a rule
of the test listener), the two target groups are that load balancer's (or not yet
attached) and in its VPC, the test listener is another listener of it and speaks
HTTP(S), the revision's deployment group is an EC2/on-premises group that deploys to the
idle fleet, the ECS service sends its traffic to the request's container and port, the
CodeDeploy group deploys that service in that cluster between the service's target group
and one other, through listeners that forward to those two only; an ECS-native service
names its alternate target group and a production rule that forwards to its two groups
only. Each refusal is an `InvalidInput` naming the request's field. Whether the stack may
act on them at all is `bluegreen.registry`'s question, asked right after.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from ..platforms.alb import forward_weights

PROBED_PROTOCOLS = ("HTTP", "HTTPS")
EC2_PLATFORM = "Server"  # CodeDeploy's compute platform of EC2/on-premises groups
_TRAFFIC_ROUTES = (
    ("production listener", "prodTrafficRoute"),
    ("test listener", "testTrafficRoute"),
)


@dataclass(frozen=True)
class Ec2Resources:
    load_balancer_arn: str
    target_groups: dict[str, dict[str, Any]]  # ARN -> DescribeTargetGroups entry


# -- EC2 -------------------------------------------------------------------------------------
def check_ec2(request: Mapping[str, Any], elbv2: Any, codedeploy: Any) -> Ec2Resources:
    """Listeners, rules, test listener and target groups exist and belong together."""
    listeners, rules = _listeners(elbv2, request)
    balancer = _one_load_balancer(request, listeners)
    described = _load_balancer(elbv2, balancer)
    groups = _target_groups(elbv2, request)
    for field, arn in _target_group_fields(request):
        _check_target_group(field, groups[arn], described)
    if request["testTraffic"]:
        _check_test_listener(request, listeners, balancer)
    _check_rules(request, rules)
    if request.get("revision"):
        _check_revision(codedeploy, request["revision"], groups)
    return Ec2Resources(balancer, groups)


def load_balancer_of(arn: str) -> str:
    """The load balancer ARN a listener or rule ARN belongs to (from the ARN's own form:
    `listener[-rule]/app/<name>/<id>/...` is on `loadbalancer/app/<name>/<id>`)."""
    prefix, _, resource = arn.partition(":listener-rule/")
    if not resource:
        prefix, _, resource = arn.partition(":listener/")
    kind, name, lb_id = resource.split("/")[:3]
    return f"{prefix}:loadbalancer/{kind}/{name}/{lb_id}"


def _described_each(
    call: Callable[[list[str]], list[dict[str, Any]]],
    named: Sequence[tuple[str, str]],
    missing: type[Exception],
    what: str,
) -> dict[str, dict[str, Any]]:
    """Describe all ARNs at once; if one is missing, find which, to name its field."""
    arns = sorted({arn for _, arn in named})
    if not arns:
        return {}
    try:
        found = {_arn_of(d): d for d in call(arns)}
    except missing:
        found = {}
        for _, arn in named:
            try:
                found.update({_arn_of(d): d for d in call([arn])})
            except missing:
                continue
    for field, arn in named:  # AWS raises for a missing ARN; some answers just leave it out
        if arn not in found:
            raise InvalidInput(field, f"no {what} {arn} (check the ARN and region)")
    return found


def _arn_of(described: Mapping[str, Any]) -> str:
    for key in ("ListenerArn", "RuleArn", "TargetGroupArn"):
        if key in described:
            return str(described[key])
    raise KeyError("no ARN in the description")


def listener_of_rule(arn: str) -> str:
    """The listener ARN a rule ARN belongs to (`listener-rule/app/<lb>/<id>/<listener>/<rule>`)."""
    return arn.replace(":listener-rule/", ":listener/", 1).rsplit("/", 1)[0]


def _listeners(
    elbv2: Any, request: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The listeners and the rules the request names, described (each must exist)."""
    named = [(f"listeners[{i}]", a) for i, a in enumerate(request["listeners"])]
    if request["testTraffic"]:
        named.append(("testTraffic.listenerArn", request["testTraffic"]["listenerArn"]))
    found = _described_each(
        lambda arns: elbv2.describe_listeners(ListenerArns=arns)["Listeners"],
        named,
        elbv2.exceptions.ListenerNotFoundException,
        "listener",
    )
    rules = _described_each(
        lambda arns: elbv2.describe_rules(RuleArns=arns)["Rules"],
        [(f"rules[{i}]", a) for i, a in enumerate(request["rules"])],
        elbv2.exceptions.RuleNotFoundException,
        "listener rule",
    )
    return found, rules


def _check_rules(request: Mapping[str, Any], rules: Mapping[str, Mapping[str, Any]]) -> None:
    """A rule the switch moves is a listener's own rule of production traffic: not its
    default rule (that is the listener's default action: name the listener), not a rule
    of the test listener (test traffic is moved by the test step only)."""
    test = (request.get("testTraffic") or {}).get("listenerArn")
    for index, arn in enumerate(request["rules"]):
        field = f"rules[{index}]"
        if rules[arn].get("IsDefault"):
            raise InvalidInput(
                field,
                "is the default rule of its listener: name that listener in `listeners` instead "
                "(its default action is the default rule)",
            )
        if test and listener_of_rule(arn) == test:
            raise InvalidInput(
                field, "is a rule of the test listener (testTraffic.listenerArn), not production"
            )


def _one_load_balancer(request: Mapping[str, Any], listeners: Mapping[str, Any]) -> str:
    routes = [(f"listeners[{i}]", a) for i, a in enumerate(request["listeners"])]
    routes += [(f"rules[{i}]", a) for i, a in enumerate(request["rules"])]
    on = [(field, listeners[arn]["LoadBalancerArn"] if arn in listeners else load_balancer_of(arn))
          for field, arn in routes]  # fmt: skip
    first_field, balancer = on[0]
    for field, other in on[1:]:
        if other != balancer:
            raise InvalidInput(
                field,
                f"is on load balancer {other}, not on {balancer} (that of {first_field}): "
                "the routes of one switch forward to the same two target groups, so they "
                "are on one load balancer",
            )
    return str(balancer)


def _load_balancer(elbv2: Any, arn: str) -> dict[str, Any]:
    return dict(elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0])


def _target_group_fields(request: Mapping[str, Any]) -> list[tuple[str, str]]:
    if request["blueTargetGroupArn"]:
        return [
            ("blueTargetGroupArn", request["blueTargetGroupArn"]),
            ("greenTargetGroupArn", request["greenTargetGroupArn"]),
        ]
    return [(f"targetGroupArns[{i}]", a) for i, a in enumerate(request["targetGroupArns"])]


def _target_groups(elbv2: Any, request: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return _described_each(
        lambda arns: elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"],
        _target_group_fields(request),
        elbv2.exceptions.TargetGroupNotFoundException,
        "target group",
    )


def _check_target_group(field: str, group: Mapping[str, Any], balancer: Mapping[str, Any]) -> None:
    attached = set(group.get("LoadBalancerArns") or [])
    if attached - {balancer["LoadBalancerArn"]}:
        raise InvalidInput(
            field,
            f"{group['TargetGroupName']} is attached to {sorted(attached)[0]}, not to the "
            f"routes' load balancer {balancer['LoadBalancerArn']}",
        )
    if group.get("VpcId") and balancer.get("VpcId") and group["VpcId"] != balancer["VpcId"]:
        raise InvalidInput(
            field,
            f"{group['TargetGroupName']} is in {group['VpcId']}, the load balancer in "
            f"{balancer['VpcId']}: it cannot forward to it",
        )


def _check_test_listener(
    request: Mapping[str, Any], listeners: Mapping[str, Any], balancer: str
) -> None:
    arn = request["testTraffic"]["listenerArn"]
    field = "testTraffic.listenerArn"
    if arn in request["listeners"]:
        raise InvalidInput(field, "is a production listener: test traffic needs its own")
    test = listeners[arn]
    if test["LoadBalancerArn"] != balancer:
        raise InvalidInput(
            field, f"is on load balancer {test['LoadBalancerArn']}, not on the routes' {balancer}"
        )
    if test.get("Protocol") not in PROBED_PROTOCOLS:
        raise InvalidInput(field, f"speaks {test.get('Protocol')}: probes need HTTP or HTTPS")


def _check_revision(
    codedeploy: Any, revision: Mapping[str, Any], groups: Mapping[str, Mapping[str, Any]]
) -> None:
    group = _deployment_group(codedeploy, revision["application"], revision["deploymentGroup"])
    platform = group.get("computePlatform") or EC2_PLATFORM
    if platform != EC2_PLATFORM:
        raise InvalidInput(
            "revision.deploymentGroup",
            f"is a {platform} deployment group: the idle fleet's revision needs an "
            "EC2/on-premises (Server) one",
        )
    infos = (group.get("loadBalancerInfo") or {}).get("targetGroupInfoList") or []
    names = {i.get("name") for i in infos if i.get("name")}
    ours = {g["TargetGroupName"] for g in groups.values()}
    if names and not names & ours:
        raise InvalidInput(
            "revision.deploymentGroup",
            f"deploys behind {sorted(names)}, neither of the switch's target groups",
        )


def _deployment_group(codedeploy: Any, application: str, group: str) -> dict[str, Any]:
    try:
        return dict(
            codedeploy.get_deployment_group(applicationName=application, deploymentGroupName=group)[
                "deploymentGroupInfo"
            ]
        )
    except codedeploy.exceptions.ApplicationDoesNotExistException:
        raise InvalidInput(
            "revision.application", f"no CodeDeploy application {application}"
        ) from None
    except codedeploy.exceptions.DeploymentGroupDoesNotExistException:
        raise InvalidInput(
            "revision.deploymentGroup", f"no deployment group {group} in {application}"
        ) from None


# -- ECS -------------------------------------------------------------------------------------
def check_ecs_container(
    request: Mapping[str, Any], service: Mapping[str, Any], task_definition: Mapping[str, Any]
) -> None:
    """The service sends its load balancer's traffic to the request's container and port,
    and that container of the task definition listens on it."""
    wanted = (request["container"]["name"], request["container"]["port"])
    balanced = [
        (lb.get("containerName"), lb.get("containerPort"))
        for lb in service.get("loadBalancers", [])
    ]
    if not balanced:
        raise InvalidInput("service", f"{service['serviceName']} has no load balancer to switch")
    if wanted not in balanced:
        name, port = balanced[0]
        raise InvalidInput(
            "container",
            f"the service's load balancer sends traffic to {name}:{port}, not "
            f"{wanted[0]}:{wanted[1]}",
        )
    for container in task_definition.get("containerDefinitions", []):
        if container["name"] == wanted[0]:
            ports = [m.get("containerPort") for m in container.get("portMappings", [])]
            if wanted[1] not in ports:
                raise InvalidInput(
                    "container.port", f"container {wanted[0]} maps ports {ports}, not {wanted[1]}"
                )


def check_deployment_group_cluster(
    request: Mapping[str, Any], group: Mapping[str, Any], service: Mapping[str, Any]
) -> None:
    """The CodeDeploy group deploys this service in this service's cluster."""
    cluster = str(service.get("clusterArn", "")).rsplit("/", 1)[-1]
    pairs = {(s.get("clusterName"), s.get("serviceName")) for s in group.get("ecsServices", [])}
    if not any(s == service["serviceName"] and c in (None, cluster) for c, s in pairs):
        raise InvalidInput(
            "codeDeploy.deploymentGroup",
            f"does not deploy service {service['serviceName']} of cluster {cluster}",
        )


def check_codedeploy_routes(
    group: Mapping[str, Any], service: Mapping[str, Any], elbv2: Any
) -> None:
    """The deployment group switches between the service's target group and one other,
    through production (and test) listeners that exist and forward to those two only."""
    field = "codeDeploy.deploymentGroup"
    pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    if not pairs:
        raise InvalidInput(field, "has no target group pair: it cannot shift the service's traffic")
    names = [str(g.get("name")) for g in pairs[0].get("targetGroups") or []]
    served = {
        _target_group_name(lb.get("targetGroupArn")) for lb in service.get("loadBalancers", [])
    }
    if len(names) != 2 or not served & set(names):
        raise InvalidInput(
            field,
            f"shifts between target groups {names}, not between the service's "
            f"{sorted(served)} and one other",
        )
    routes = [
        (label, arn)
        for label, key in _TRAFFIC_ROUTES
        for arn in (pairs[0].get(key) or {}).get("listenerArns") or []
    ]
    if not any(label == "production listener" for label, _ in routes):
        raise InvalidInput(field, "names no production listener (prodTrafficRoute)")
    for label, arn in routes:
        try:
            found = elbv2.describe_listeners(ListenerArns=[arn])["Listeners"]
        except elbv2.exceptions.ListenerNotFoundException:
            found = []
        if not found:
            raise InvalidInput(field, f"its {label} {arn} does not exist")
        names_of = {g: _target_group_name(g) for g in forward_weights(found[0]["DefaultActions"])}
        _forwards_within(field, f"{label} {arn}", found[0]["DefaultActions"], names, names_of)


def check_native_routes(service: Mapping[str, Any], elbv2: Any) -> None:
    """An ECS-native blue/green service names its alternate target group and its production
    listener rule, which exist; its rules forward to the service's two groups only."""
    for lb in service.get("loadBalancers", []):
        advanced = lb.get("advancedConfiguration") or {}
        if not advanced.get("alternateTargetGroupArn") or not advanced.get(
            "productionListenerRule"
        ):
            raise InvalidInput(
                "service",
                f"{service['serviceName']}'s load balancer has no advancedConfiguration with an "
                "alternateTargetGroupArn and a productionListenerRule: ECS-native blue/green "
                "needs both",
            )
        groups = [str(lb.get("targetGroupArn")), str(advanced["alternateTargetGroupArn"])]
        _described_each(
            lambda arns: elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"],
            [("service", arn) for arn in groups],
            elbv2.exceptions.TargetGroupNotFoundException,
            "target group of the service",
        )
        rules = [("production listener rule", advanced["productionListenerRule"])]
        if advanced.get("testListenerRule"):
            rules.append(("test listener rule", advanced["testListenerRule"]))
        described = _described_each(
            lambda arns: elbv2.describe_rules(RuleArns=arns)["Rules"],
            [("service", arn) for _, arn in rules],
            elbv2.exceptions.RuleNotFoundException,
            "listener rule of the service",
        )
        for label, arn in rules:
            actions = described[arn].get("Actions") or []
            _forwards_within("service", f"{label} {arn}", actions, groups)


def _target_group_name(arn: Any) -> str:
    parts = str(arn or "").split("/")
    return parts[-2] if len(parts) >= 3 else ""


def _forwards_within(
    field: str,
    route: str,
    actions: Sequence[Mapping[str, Any]],
    pair: Sequence[str],
    names: Mapping[str, str] | None = None,
) -> None:
    """The route forwards, and only to the pair (ARNs, or names through `names`)."""
    weights = forward_weights(actions)
    if not weights:
        raise InvalidInput(field, f"its {route} has no forward action")
    for arn, weight in weights.items():
        if weight and (names or {}).get(arn, arn) not in pair:
            raise InvalidInput(field, f"its {route} also forwards to {arn}, outside the pair")
