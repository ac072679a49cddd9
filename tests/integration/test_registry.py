"""A switch acts only on what the stack's operators registered, on the emulated AWS.

The first state refuses a request that names anything outside the registry (untagged,
tagged for another stack, outside the stack's name parameters, a release whose task
definition names a role the stack may not pass) with the field and the rule, before any
lock or write: no record, no lock, no event, no weight moved, no task definition
registered. Behind it, IAM holds the same line: the functions' roles may not write on an
untagged listener, update an untagged service or pass an unregistered role, whatever the
request says. And what the registry holds still switches, roles and all.
"""

from __future__ import annotations

import itertools

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.core.identity import acting_as
from bluegreen_emulator.fixtures.ec2_fleet import MANAGED_TAG, Ec2Fleet
from tests.integration import ec2_helpers
from tests.integration.ec2_helpers import (
    ALL_ON_BLUE,
    AwsCalls,
    Call,
    Run,
    detail_types,
    everything_on,
    locks_and_guards,
    production,
    record,
    run_switch,
)

pytestmark = pytest.mark.integration

REFUSED_AT_ONCE = ["ValidateInput", "ExplainRefusal", "InputRefused"]
_NAMES = itertools.count(1)

calls = ec2_helpers.calls_fixture
shared_aws = ec2_helpers.hooked_shared_aws_fixture
aws = ec2_helpers.hooked_aws_fixture
fleets = ec2_helpers.fleets_fixture
fleet = ec2_helpers.fleet_fixture


def refused(run: Run, field: str) -> str:
    """The run was refused in the first state, naming `field`; the reason."""
    assert (run.status, run.error) == ("FAILED", "InvalidInput"), run.cause
    assert run.states == REFUSED_AT_ONCE
    assert run.cause is not None and run.cause.startswith(f"{field}: "), run.cause
    return run.cause.removeprefix(f"{field}: ")


READS = ("Describe", "List", "Get")


def writes(calls: AwsCalls) -> list[str]:
    """Every call the stack's functions made that is not a read."""
    return [
        f"{c.function}: {c.operation}" for c in calls.calls if not c.operation.startswith(READS)
    ]


def nothing_changed(aws: Emulator, fleet: Ec2Fleet, run: Run, calls: AwsCalls) -> None:
    # the first state read the routes (its calls are seen) and refused before any AWS write
    assert Call("PlanFunction", "elbv2", "DescribeListeners") in calls.calls
    assert writes(calls) == []
    assert production(aws, fleet) == everything_on(ALL_ON_BLUE)
    assert record(aws, run.name) is None
    assert locks_and_guards(aws, fleet) == []
    assert detail_types(aws, run.name) == []


def untag(aws: Emulator, arn: str) -> None:
    aws.client("elbv2").remove_tags(ResourceArns=[arn], TagKeys=[MANAGED_TAG])


# -- EC2 -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("resource", "field", "described"),
    [
        ("load_balancer_arn", "listeners[0]", "load balancer app/"),
        ("listener_arn", "listeners[0]", "listener app/"),
        ("rule_arn", "rules[0]", "listener rule app/"),
        ("test_listener_arn", "testTraffic.listenerArn", "listener app/"),
        ("green_arn", "greenTargetGroupArn", "target group "),
    ],
)
def test_an_untagged_resource_is_refused_in_the_first_state_and_nothing_changes(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls, resource: str, field: str, described: str
) -> None:
    # Given a fleet whose operators did not register one of its resources
    untag(aws, getattr(fleet, resource))
    # When a switch of it runs
    run = run_switch(aws, fleet.request(), name=f"untagged-{next(_NAMES)}")
    # Then it is refused at once, naming the field and the tag it lacks
    reason = refused(run, field)
    assert reason.startswith(described), reason
    assert "is not tagged bluegreen:managed=bluegreen (it has no such tag)" in reason
    nothing_changed(aws, fleet, run, calls)


def test_a_load_balancer_registered_by_another_stack_is_refused(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    aws.client("elbv2").add_tags(
        ResourceArns=[fleet.load_balancer_arn],
        Tags=[{"Key": MANAGED_TAG, "Value": "bluegreen-staging"}],
    )
    run = run_switch(aws, fleet.request(), name="other-stacks-lb")
    reason = refused(run, "listeners[0]")
    assert "(it is tagged bluegreen:managed=bluegreen-staging)" in reason
    nothing_changed(aws, fleet, run, calls)


def test_a_default_rule_and_a_rule_of_the_test_listener_are_refused_as_routes(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    elbv2 = aws.client("elbv2")
    rules = elbv2.describe_rules(ListenerArn=fleet.listener_arn)["Rules"]
    default = next(r["RuleArn"] for r in rules if r["IsDefault"])
    run = run_switch(aws, fleet.request(rules=[default]), name="default-rule")
    assert "is the default rule of its listener" in refused(run, "rules[0]")
    test_rule = elbv2.create_rule(
        ListenerArn=fleet.test_listener_arn,
        Priority=5,
        Conditions=[{"Field": "path-pattern", "Values": ["/t/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": fleet.green_arn}],
    )["Rules"][0]["RuleArn"]
    run = run_switch(aws, fleet.request(rules=[test_rule]), name="test-rule")
    assert "is a rule of the test listener" in refused(run, "rules[0]")
    nothing_changed(aws, fleet, run, calls)


def test_iam_refuses_a_write_on_an_untagged_listener_whatever_the_request_said(
    aws: Emulator, fleet: Ec2Fleet
) -> None:
    # Given the Shift function's role, and the fleet's production listener as it is
    shift_role = aws.function("ShiftFunction").role_arn
    elbv2 = aws.client("elbv2")
    actions = elbv2.describe_listeners(ListenerArns=[fleet.listener_arn])["Listeners"][0][
        "DefaultActions"
    ]
    # When the role writes it tagged (a positive control), Then IAM allows it
    with acting_as(shift_role):
        elbv2.modify_listener(ListenerArn=fleet.listener_arn, DefaultActions=actions)
    # When the tag is gone, Then the same write is refused by IAM, naming the listener
    untag(aws, fleet.listener_arn)
    with acting_as(shift_role), pytest.raises(elbv2.exceptions.ClientError) as denied:
        elbv2.modify_listener(ListenerArn=fleet.listener_arn, DefaultActions=actions)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert f"elasticloadbalancing:ModifyListener on resource: {fleet.listener_arn}" in str(
        denied.value
    )


def test_a_revision_from_a_bucket_the_stack_does_not_register_is_refused(
    aws: Emulator, fleet: Ec2Fleet, calls: AwsCalls
) -> None:
    # Given the fleet's own CodeDeploy application and green group (registered, tagged)
    assert fleet.stack is not None
    outputs = fleet.stack.outputs
    revision = {
        "application": outputs["CodeDeployApplicationName"],
        "deploymentGroup": outputs["GreenDeploymentGroupName"],
        "revision": {"revisionType": "S3", "s3Location": {"bucket": "attacker", "key": "x.zip"}},
    }
    run = run_switch(aws, fleet.request(revision=revision), name="foreign-bucket")
    assert refused(run, "revision.revision.s3Location.bucket") == (
        "bucket 'attacker' is not one this stack manages (ManagedArtifactBuckets=*-releases)"
    )
    nothing_changed(aws, fleet, run, calls)
