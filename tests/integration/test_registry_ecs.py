"""The ECS side of the registry, on the emulated AWS: a service, its CodeDeploy group and
the roles a release runs with are registered or refused in the first state; IAM holds
the same line for EcsStart (UpdateService on a tagged service only, iam:PassRole to the
registered roles only, to ecs-tasks.amazonaws.com); a release with registered roles
goes live with a task definition that keeps them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ec2_fleet import MANAGED_TAG
from bluegreen_emulator.fixtures.ecs_fleet import EcsFleet, build_ecs_fleet
from tests.integration.ec2_helpers import detail_types, record, run_switch
from tests.integration.test_registry import refused

pytestmark = pytest.mark.integration

_NAMES = itertools.count(1)


@pytest.fixture(scope="module")
def ecs_aws() -> Iterator[Emulator]:
    with Emulator() as emulator:
        for emulation in (emulator.codedeploy_emulation, emulator.ecs_emulation):
            emulation.background = True
        yield emulator


def ecs_request(fleet: EcsFleet, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "platform": "ECS",
        "mode": "codedeploy" if fleet.application else "ecs-native",
        "cluster": fleet.cluster,
        "service": fleet.service,
        "taskDefinition": fleet.release,
        "container": {"name": "app", "port": 80},
        "strategy": {"type": "all-at-once"},
        "requestedBy": "ci@example.com",
    }
    if fleet.application:
        request["codeDeploy"] = {
            "application": fleet.application,
            "deploymentGroup": fleet.deployment_group,
        }
    request.update(overrides)
    return request


def revisions(aws: Emulator, family: str) -> list[str]:
    return list(aws.client("ecs").list_task_definitions(familyPrefix=family)["taskDefinitionArns"])


@pytest.mark.parametrize("mode", ["CODE_DEPLOY", "ECS"])
def test_a_release_keeps_its_registered_task_and_execution_roles(
    ecs_aws: Emulator, mode: str
) -> None:
    # Given a service whose task definition runs with the registered task and execution roles
    fleet = build_ecs_fleet(ecs_aws, name=f"roles{next(_NAMES)}", mode=mode)
    # When a release of a new image runs (EcsStart registers a revision copying the roles)
    run = run_switch(
        ecs_aws, ecs_request(fleet, image="example/web:3"), name=f"roles-{fleet.service}"
    )
    # Then it went live with the new revision, which runs with the same two roles
    assert run.status == "SUCCEEDED", run.cause
    ecs = ecs_aws.client("ecs")
    live = ecs.describe_services(cluster=fleet.cluster, services=[fleet.service])["services"][0]
    described = ecs.describe_task_definition(taskDefinition=live["taskDefinition"])
    released = described["taskDefinition"]
    assert released["containerDefinitions"][0]["image"] == "example/web:3"
    assert (released["taskRoleArn"], released["executionRoleArn"]) == (
        fleet.task_role_arn,
        fleet.execution_role_arn,
    )
    assert len(revisions(ecs_aws, fleet.service)) == 3


@pytest.mark.parametrize("image", [None, "example/web:3"])
def test_a_release_with_an_unregistered_role_is_refused_first_and_nothing_changes(
    ecs_aws: Emulator, image: str | None
) -> None:
    # Given a task definition whose task role is the account's administrator role
    fleet = build_ecs_fleet(ecs_aws, name=f"admin{next(_NAMES)}", mode="ECS")
    ecs = ecs_aws.client("ecs")
    admin = f"arn:aws:iam::{ecs_aws.account_id}:role/admin"
    rogue = ecs.register_task_definition(
        family=fleet.service,
        taskRoleArn=admin,
        executionRoleArn=fleet.execution_role_arn,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "app", "image": "example/web:9", "portMappings": [{"containerPort": 80}]}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    before = revisions(ecs_aws, fleet.service)
    # When a release of it runs (as it is, or with a new image)
    request = ecs_request(fleet, taskDefinition=rogue, image=image)
    run = run_switch(ecs_aws, request, name=f"rogue-{fleet.service}")
    # Then it is refused at once, naming the task definition and the role
    assert refused(run, "taskDefinition") == (
        f"{fleet.service}:3 runs with task role {admin}, which is not a role this stack may "
        f"pass (PassableTaskRoles=arn:aws:iam::{ecs_aws.account_id}:role/*-task,"
        f"arn:aws:iam::{ecs_aws.account_id}:role/*-execution)"
    )
    # and nothing changed: no new revision, no deployment, the service as it was
    assert revisions(ecs_aws, fleet.service) == before
    service = ecs.describe_services(cluster=fleet.cluster, services=[fleet.service])["services"][0]
    assert service["taskDefinition"] == fleet.task_definitions[0]
    assert record(ecs_aws, run.name) is None
    assert detail_types(ecs_aws, run.name) == []


def test_iam_refuses_passing_an_unregistered_role_to_ecs(ecs_aws: Emulator) -> None:
    fleet = build_ecs_fleet(ecs_aws, name=f"pass{next(_NAMES)}", mode="ECS")
    start_role = ecs_aws.function("EcsStartFunction").role_arn
    ecs = ecs_aws.client("ecs")
    definition = {
        "family": fleet.service,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "app", "image": "x", "portMappings": []}],
    }
    # Given EcsStart's role: it may register a revision with the registered roles
    with acting_as(start_role):
        ecs.register_task_definition(
            **definition,
            taskRoleArn=fleet.task_role_arn,
            executionRoleArn=fleet.execution_role_arn,
        )
    # but IAM refuses it one that names any other role
    admin = f"arn:aws:iam::{ecs_aws.account_id}:role/admin"
    with acting_as(start_role), pytest.raises(ecs.exceptions.ClientError) as denied:
        ecs.register_task_definition(**definition, taskRoleArn=admin)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"iam:PassRole on resource: {admin}" in str(denied.value)


@pytest.mark.parametrize("mode", ["CODE_DEPLOY", "ECS"])
def test_an_untagged_service_is_refused_and_iam_would_not_update_it(
    ecs_aws: Emulator, mode: str
) -> None:
    fleet = build_ecs_fleet(ecs_aws, name=f"bare{next(_NAMES)}", mode=mode)
    ecs = ecs_aws.client("ecs")
    ecs.untag_resource(resourceArn=fleet.service_arn, tagKeys=[MANAGED_TAG])
    before = revisions(ecs_aws, fleet.service)
    run = run_switch(ecs_aws, ecs_request(fleet), name=f"bare-{fleet.service}")
    reason = refused(run, "service")
    assert reason.startswith(f"ECS service {fleet.cluster}/{fleet.service} is not tagged")
    # and nothing changed: the service as it was, no revision, no record, no event
    service = ecs.describe_services(cluster=fleet.cluster, services=[fleet.service])["services"][0]
    assert service["taskDefinition"] == fleet.task_definitions[0]
    assert revisions(ecs_aws, fleet.service) == before
    assert record(ecs_aws, run.name) is None
    assert detail_types(ecs_aws, run.name) == []
    with (
        acting_as(ecs_aws.function("EcsStartFunction").role_arn),
        pytest.raises(ecs.exceptions.ClientError) as denied,
    ):
        ecs.update_service(
            cluster=fleet.cluster, service=fleet.service, taskDefinition=fleet.release
        )
    assert f"ecs:UpdateService on resource: {fleet.service_arn}" in str(denied.value)


def test_an_untagged_codedeploy_group_is_refused(ecs_aws: Emulator) -> None:
    fleet = build_ecs_fleet(ecs_aws, name=f"group{next(_NAMES)}", mode="CODE_DEPLOY")
    group = (
        f"arn:aws:codedeploy:{ecs_aws.region}:{ecs_aws.account_id}:deploymentgroup:"
        f"{fleet.application}/{fleet.deployment_group}"
    )
    ecs_aws.client("codedeploy").untag_resource(ResourceArn=group, TagKeys=[MANAGED_TAG])
    run = run_switch(ecs_aws, ecs_request(fleet), name=f"group-{fleet.service}")
    assert refused(run, "codeDeploy.deploymentGroup").startswith(
        f"deployment group {fleet.application}/{fleet.deployment_group} is not tagged"
    )
    # and no CodeDeploy deployment was created, nothing recorded
    deployments = ecs_aws.client("codedeploy").list_deployments(
        applicationName=fleet.application, deploymentGroupName=fleet.deployment_group
    )["deployments"]
    assert deployments == []
    assert record(ecs_aws, run.name) is None
