"""What this stack may act on: the targets its operators registered, and nothing else.

A request says what to switch; it never says what the stack may touch. That is set when
the stack is deployed, by two fences:

- the tag `bluegreen:managed` = the stack's name, on every resource a switch changes or
  sends traffic to: load balancers, listeners, listener rules, target groups, ECS
  services, CodeDeploy applications and deployment groups. The stack's IAM policies
  require the same tag (`aws:ResourceTag/bluegreen:managed`) on each write the Service
  Authorization Reference lets a tag scope;
- name patterns, template parameters with IAM's wildcards (`*`, `?`) that never take a
  bare `*`: the load balancers (`ManagedLoadBalancerNames`), the ECS services
  (`ManagedEcsServices`, `cluster/service`), the CodeDeploy applications
  (`ManagedCodeDeployApplications`), the S3 buckets EC2 revisions come from
  (`ManagedArtifactBuckets`) and the task and execution roles a release may run with
  (`PassableTaskRoles`, role ARNs). An empty parameter registers nothing.

The first state (Plan) checks both, read-only, before anything is locked or written, and
refuses whatever lies outside with an `InvalidInput` naming the request's field and the
rule (`listeners[0]: load balancer app/shop-alb/0f3c is not tagged
bluegreen:managed=bluegreen (it has no such tag)`); IAM holds the same line for every
call after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from .errors import InvalidInput

TAG_KEY = "bluegreen:managed"
DESCRIBE_TAGS_MAX = 20  # ELB DescribeTags takes at most 20 ARNs a call
EC2_REVISION_TYPES = ("S3",)  # a bucket the stack registered; GitHub and inline are refused


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM wildcard pattern (`*` any text, `?` one character), case-sensitive."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
        re.DOTALL,
    )


def matches(pattern: str, value: str) -> bool:
    return bool(pattern) and _glob(pattern).fullmatch(value) is not None


def _patterns(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Registry:
    """The stack's registered targets (its template parameters, read once per cold start)."""

    tag_value: str = ""  # the stack's name
    load_balancers: str = ""  # ManagedLoadBalancerNames
    ecs_services: str = ""  # ManagedEcsServices: cluster/service
    codedeploy_applications: str = ""  # ManagedCodeDeployApplications
    artifact_buckets: tuple[str, ...] = ()  # ManagedArtifactBuckets
    task_roles: tuple[str, ...] = ()  # PassableTaskRoles: role ARN patterns
    hook_role: str = ""  # the stack's own role ECS invokes the ECS-native hook with

    @classmethod
    def from_settings(
        cls,
        tag_value: str,
        load_balancers: str,
        ecs_services: str,
        codedeploy_applications: str,
        artifact_buckets: str,
        task_roles: str,
        hook_role: str = "",
    ) -> Registry:
        return cls(
            tag_value=tag_value,
            load_balancers=load_balancers.strip(),
            ecs_services=ecs_services.strip(),
            codedeploy_applications=codedeploy_applications.strip(),
            artifact_buckets=_patterns(artifact_buckets),
            task_roles=_patterns(task_roles),
            hook_role=hook_role,
        )

    # -- the two fences ------------------------------------------------------------------
    def require_tag(self, field: str, what: str, tags: Mapping[str, str]) -> None:
        """`what` (a resource, as a person reads it) carries the stack's tag."""
        if not self.tag_value:
            raise InvalidInput(
                field,
                f"{what} cannot be checked: this stack's registry tag value is not configured "
                "(MANAGED_TAG_VALUE)",
            )
        found = tags.get(TAG_KEY)
        if found == self.tag_value:
            return
        has = "it has no such tag" if found is None else f"it is tagged {TAG_KEY}={found}"
        raise InvalidInput(
            field,
            f"{what} is not tagged {TAG_KEY}={self.tag_value} ({has}): this stack acts only "
            "on what its operators registered (docs/security.md)",
        )

    def require_name(
        self,
        field: str,
        what: str,
        name: str,
        patterns: Sequence[str],
        parameter: str,
        outside: str = "is not one this stack manages",
    ) -> None:
        """`name` matches one of the stack's `parameter` patterns."""
        given = [p for p in patterns if p]
        if any(matches(p, name) for p in given):
            return
        if not given:
            raise InvalidInput(
                field, f"{what} {outside}: its {parameter} parameter is empty (nothing registered)"
            )
        raise InvalidInput(field, f"{what} {outside} ({parameter}={','.join(given)})")


# -- reading tags ------------------------------------------------------------------------------
def elb_tags(elbv2: Any, arns: Iterable[str]) -> dict[str, dict[str, str]]:
    """ARN -> tags, for load balancers, listeners, rules and target groups."""
    wanted = sorted(set(arns))
    found: dict[str, dict[str, str]] = {arn: {} for arn in wanted}
    for start in range(0, len(wanted), DESCRIBE_TAGS_MAX):
        chunk = wanted[start : start + DESCRIBE_TAGS_MAX]
        for described in elbv2.describe_tags(ResourceArns=chunk)["TagDescriptions"]:
            found[described["ResourceArn"]] = {
                t["Key"]: t.get("Value", "") for t in described.get("Tags", [])
            }
    return found


def ecs_tags(ecs: Any, arn: str) -> dict[str, str]:
    listed = ecs.list_tags_for_resource(resourceArn=arn).get("tags", [])
    return {t["key"]: t.get("value", "") for t in listed}


def codedeploy_tags(codedeploy: Any, arn: str) -> dict[str, str]:
    listed = codedeploy.list_tags_for_resource(ResourceArn=arn).get("Tags", [])
    return {t["Key"]: t.get("Value", "") for t in listed}


def _arn_head(arn: str) -> str:
    """`arn:<partition>:<service>:<region>:<account>` of an ARN, service left out."""
    partition, _service, region, account = arn.split(":")[1:5]
    return f"arn:{partition}:{{service}}:{region}:{account}"


def codedeploy_arns(any_arn: str, application: str, group: str) -> tuple[str, str]:
    """The application's and the deployment group's ARNs, in `any_arn`'s account and region."""
    head = _arn_head(any_arn).format(service="codedeploy")
    return f"{head}:application:{application}", f"{head}:deploymentgroup:{application}/{group}"


_ELB_KINDS = {
    "loadbalancer": "load balancer",
    "listener": "listener",
    "listener-rule": "listener rule",
    "targetgroup": "target group",
}


def _resource(arn: str) -> str:
    """How a person reads an ELB ARN: `listener app/shop-alb/0f3c.../9a1b...`."""
    kind, _, rest = arn.split(":", 5)[5].partition("/")
    return f"{_ELB_KINDS.get(kind, kind)} {rest}"


# -- EC2 ---------------------------------------------------------------------------------------
def elb_fields(request: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(request field, ARN) of every ELB resource an EC2 request names, in field order."""
    named = [(f"listeners[{i}]", a) for i, a in enumerate(request["listeners"])]
    named += [(f"rules[{i}]", a) for i, a in enumerate(request["rules"])]
    if request.get("testTraffic"):
        named.append(("testTraffic.listenerArn", request["testTraffic"]["listenerArn"]))
    if request.get("blueTargetGroupArn"):
        named += [
            ("blueTargetGroupArn", request["blueTargetGroupArn"]),
            ("greenTargetGroupArn", request["greenTargetGroupArn"]),
        ]
    else:
        named += [(f"targetGroupArns[{i}]", a) for i, a in enumerate(request["targetGroupArns"])]
    return named


def check_ec2(
    request: Mapping[str, Any], balancer: str, registry: Registry, elbv2: Any, codedeploy: Any
) -> None:
    """The load balancer is registered by name and tag, and so is every listener, rule
    and target group the request names; a revision's application, deployment group and
    bucket are registered too."""
    named = elb_fields(request)
    tags = elb_tags(elbv2, [balancer, *(arn for _, arn in named)])
    first = named[0][0]
    what = _resource(balancer)
    name = balancer.split(":loadbalancer/", 1)[1].split("/")[1]
    registry.require_name(first, what, name, [registry.load_balancers], "ManagedLoadBalancerNames")
    registry.require_tag(first, what, tags[balancer])
    for field, arn in named:
        registry.require_tag(field, _resource(arn), tags[arn])
    if request.get("revision"):
        check_revision(request["revision"], balancer, registry, codedeploy)


def check_revision(
    revision: Mapping[str, Any], any_arn: str, registry: Registry, codedeploy: Any
) -> None:
    application, group = revision["application"], revision["deploymentGroup"]
    check_codedeploy(
        application, group, ("revision.application", "revision.deploymentGroup"),
        any_arn, registry, codedeploy,
    )  # fmt: skip
    location = revision["revision"]
    kind = location.get("revisionType")
    if kind not in EC2_REVISION_TYPES:
        raise InvalidInput(
            "revision.revision.revisionType",
            f"{kind}: the idle fleet installs only S3 revisions from the buckets this stack "
            "registered (ManagedArtifactBuckets)",
        )
    bucket = str((location.get("s3Location") or {}).get("bucket") or "")
    registry.require_name(
        "revision.revision.s3Location.bucket",
        f"bucket {bucket!r}",
        bucket,
        registry.artifact_buckets,
        "ManagedArtifactBuckets",
    )


def check_codedeploy(
    application: str,
    group: str,
    fields: tuple[str, str],
    any_arn: str,
    registry: Registry,
    codedeploy: Any,
) -> None:
    """A CodeDeploy application registered by name and tag, and its deployment group by tag."""
    app_arn, group_arn = codedeploy_arns(any_arn, application, group)
    what = f"CodeDeploy application {application}"
    registry.require_name(
        fields[0], what, application, [registry.codedeploy_applications],
        "ManagedCodeDeployApplications",
    )  # fmt: skip
    registry.require_tag(fields[0], what, codedeploy_tags(codedeploy, app_arn))
    registry.require_tag(
        fields[1], f"deployment group {application}/{group}", codedeploy_tags(codedeploy, group_arn)
    )


# -- ECS ---------------------------------------------------------------------------------------
def check_ecs(
    request: Mapping[str, Any],
    service: Mapping[str, Any],
    task_definition: Mapping[str, Any],
    registry: Registry,
    ecs: Any,
    codedeploy: Any,
) -> None:
    """The service is registered by `cluster/service` name and by tag; in CodeDeploy mode
    its application and deployment group are too; the release runs only with roles the
    stack may pass; the ECS-native hook is invoked only with the stack's own role."""
    cluster = str(service.get("clusterArn", "")).rsplit("/", 1)[-1]
    name = f"{cluster}/{service['serviceName']}"
    what = f"ECS service {name}"
    registry.require_name("service", what, name, [registry.ecs_services], "ManagedEcsServices")
    registry.require_tag("service", what, ecs_tags(ecs, str(service["serviceArn"])))
    if request["mode"] == "codedeploy":
        target = request["codeDeploy"]
        check_codedeploy(
            target["application"], target["deploymentGroup"],
            ("codeDeploy.application", "codeDeploy.deploymentGroup"),
            str(service["serviceArn"]), registry, codedeploy,
        )  # fmt: skip
    else:
        check_hook_role(request, registry)
    check_task_roles("taskDefinition", task_definition, registry)


def roles_of(task_definition: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(which, role ARN) of the task and execution roles a task definition names; a short
    name is the role of that name in the task definition's account."""
    parts = str(task_definition.get("taskDefinitionArn", "")).split(":")
    partition, account = (parts[1], parts[4]) if len(parts) > 5 else ("aws", "")
    found = []
    for key, which in (("taskRoleArn", "task role"), ("executionRoleArn", "execution role")):
        role = str(task_definition.get(key) or "")
        if role and not role.startswith("arn:"):
            role = f"arn:{partition}:iam::{account}:role/{role}"
        if role:
            found.append((which, role))
    return found


def check_task_roles(field: str, task_definition: Mapping[str, Any], registry: Registry) -> None:
    """A release runs only with the task and execution roles the stack may pass."""
    name = str(task_definition.get("taskDefinitionArn", "")).rsplit("/", 1)[-1]
    for which, role in roles_of(task_definition):
        registry.require_name(
            field, f"{name} runs with {which} {role}, which", role, registry.task_roles,
            "PassableTaskRoles", outside="is not a role this stack may pass",
        )  # fmt: skip


def check_hook_role(request: Mapping[str, Any], registry: Registry) -> None:
    """ECS invokes the ECS-native hook only with the stack's own role (the one it may pass)."""
    role = (request.get("ecsNative") or {}).get("hookRoleArn")
    if role and role != registry.hook_role:
        raise InvalidInput(
            "ecsNative.hookRoleArn",
            f"{role} is not this stack's hook role ({registry.hook_role or 'not configured'}): "
            "the stack passes no other role to ECS; leave it out",
        )
