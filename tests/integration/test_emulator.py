"""The emulated AWS runs this project's template for real.

The proof: deploy `template.yaml`, start the real switch state machine, which invokes the
real task handlers, and check its output, the listener it changed and the record it left
in DynamoDB. Then the runtime's promises: bad input fails the way AWS reports it, functions
are isolated from each other, logs land where CloudWatch would put them, parameters
override defaults, and a template the emulator cannot follow is refused by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from textwrap import dedent

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet
from bluegreen_emulator.stack.template import TemplateError
from tests.conftest import load_event

pytestmark = pytest.mark.integration


def test_a_switch_runs_through_the_real_state_machine_and_changes_the_emulated_aws(
    aws: Emulator,
) -> None:
    # Given the stack deployed, an ALB whose listener sends everything to blue, and a
    # valid all-at-once switch request to green
    fleet = build_ec2_fleet(aws, with_http=False)
    request = fleet.request(strategy={"type": "all-at-once"})

    # When the switch state machine runs it
    execution = aws.start_execution(aws.output("SwitchStateMachineArn"), request, name="proof-1")
    described = aws.wait_for_execution(execution)

    # Then it succeeded, and its output says green is now live
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert (output["status"], output["live"]) == ("SUCCEEDED", fleet.green_arn)
    # and the real task functions ran, starting with the plan that validates the input
    ran = [i.function for i in aws.runtime.history]
    assert ran[0] == aws.function("PlanFunction").name
    assert all(i.error_type is None for i in aws.runtime.history)
    # and the production listener really forwards everything to green now
    listener = aws.client("elbv2").describe_listeners(ListenerArns=[fleet.listener_arn])
    groups = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    assert {g["TargetGroupArn"]: g["Weight"] for g in groups} == {
        fleet.blue_arn: 0,
        fleet.green_arn: 100,
    }
    # and the deployment record in DynamoDB, keyed by the execution's name, says so
    item = aws.client("dynamodb").get_item(
        TableName=aws.output("DeploymentsTableName"),
        Key={"pk": {"S": "DEPLOY#proof-1"}, "sk": {"S": "RECORD"}},
        ConsistentRead=True,
    )["Item"]
    assert item["status"] == {"S": "SUCCEEDED"}
    assert json.loads(item["body"]["S"])["from"] == fleet.blue_arn


def test_an_invalid_request_fails_in_the_first_state_naming_the_field(aws: Emulator) -> None:
    # Given a request for a platform that does not exist
    request = {**load_event("switch_request"), "platform": "MAINFRAME"}

    # When the switch state machine runs it
    execution = aws.start_execution(aws.output("SwitchStateMachineArn"), request, name="bad-1")
    described = aws.wait_for_execution(execution)

    # Then it failed with the domain error, and the cause names the field and the reason
    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidInput"
    assert "platform: must be one of EC2" in described["cause"]
    # and nothing was recorded
    table = aws.output("DeploymentsTableName")
    assert aws.client("dynamodb").scan(TableName=table)["Count"] == 0


def test_template_parameters_override_their_defaults() -> None:
    # Given parameter overrides, as `sam deploy --parameter-overrides` would pass them
    overrides = {"LogLevel": "DEBUG", "EventSource": "acme.deploys", "LockTtlSeconds": "900"}

    # When the stack is deployed with them
    with Emulator(parameters=overrides) as aws:
        lam = aws.client("lambda")
        names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
        envs = {
            name: lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
            for name in names
        }

    # Then every function's environment carries the overridden values
    assert envs
    for env in envs.values():
        assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
        assert env["EVENT_SOURCE"] == "acme.deploys"
        assert env["LOCK_TTL_SECONDS"] == "900"
        assert env["EVENT_BUS_NAME"] == "default"  # not overridden: the template's default


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"LogLevel": "LOUD"}, "LogLevel='LOUD' is not one of"),
        ({"NoSuchParameter": "x"}, "not declared by the template: ['NoSuchParameter']"),
    ],
)
def test_a_wrong_parameter_override_is_refused_by_name(
    overrides: dict[str, str], message: str
) -> None:
    # Given a bad override, When the stack is deployed, Then the deploy is refused
    with pytest.raises(TemplateError) as refused:
        Emulator(parameters=overrides).start()
    assert message in str(refused.value)


def _write_stack(root: Path, template: str, functions: dict[str, str]) -> Path:
    for folder, source in functions.items():
        (root / folder).mkdir()
        (root / folder / "app.py").write_text(dedent(source), encoding="utf-8")
    path = root / "template.yaml"
    path.write_text(dedent(template), encoding="utf-8")
    return path


_PROBE = """
    import os

    WHO = "{who}"

    def handler(event, context):
        seen = {{k: os.environ.get(k) for k in event["names"]}}
        return {{"module": WHO, "env": seen}}
"""


def test_each_function_sees_its_own_environment_and_module_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two functions with the same module name and different template environments,
    # and a host environment with a variable the template also sets
    template = _write_stack(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function:
            Runtime: python3.13
            Environment:
              Variables: {SHARED: from-globals, POWERTOOLS_SERVICE_NAME: probe}
        Resources:
          AlphaFunction:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: alpha/
              Handler: app.handler
              Environment: {Variables: {ONLY_ALPHA: a}}
          BetaFunction:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: beta/
              Handler: app.handler
              Environment: {Variables: {ONLY_BETA: b, SHARED: beta-wins}}
        """,
        {"alpha": _PROBE.format(who="alpha"), "beta": _PROBE.format(who="beta")},
    )
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "host-value")
    monkeypatch.delenv("ONLY_ALPHA", raising=False)
    names = [
        "ONLY_ALPHA",
        "ONLY_BETA",
        "SHARED",
        "POWERTOOLS_SERVICE_NAME",
        "AWS_LAMBDA_FUNCTION_NAME",
    ]

    # When each is invoked
    with Emulator(template=template, stack_name="probe") as aws:
        alpha = aws.runtime.invoke("probe-AlphaFunction", {"names": names}).json()
        beta = aws.runtime.invoke("probe-BetaFunction", {"names": names}).json()
        alpha_again = aws.runtime.invoke("probe-AlphaFunction", {"names": names}).json()

    # Then each ran its own module with its own template environment, Globals merged in
    assert alpha == alpha_again
    assert alpha["module"] == "alpha"
    assert alpha["env"] == {
        "ONLY_ALPHA": "a",
        "ONLY_BETA": None,
        "SHARED": "from-globals",
        "POWERTOOLS_SERVICE_NAME": "probe",
        "AWS_LAMBDA_FUNCTION_NAME": "probe-AlphaFunction",
    }
    assert beta["module"] == "beta"
    assert beta["env"]["ONLY_ALPHA"] is None
    assert beta["env"]["ONLY_BETA"] == "b"
    assert beta["env"]["SHARED"] == "beta-wins"
    # and the host environment is as it was before
    assert os.environ["POWERTOOLS_SERVICE_NAME"] == "host-value"
    assert "ONLY_ALPHA" not in os.environ
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


def test_a_resource_type_the_emulator_cannot_deploy_is_refused_by_name(tmp_path: Path) -> None:
    # Given a template with a resource type the emulator does not know
    template = _write_stack(
        tmp_path,
        """
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              BillingMode: PAY_PER_REQUEST
              AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
              KeySchema: [{AttributeName: pk, KeyType: HASH}]
          Stream:
            Type: AWS::Kinesis::Stream
            Properties: {ShardCount: 1}
        """,
        {},
    )

    # When it is deployed, Then the deploy is refused and names the type
    with pytest.raises(TemplateError, match=r"cannot deploy: \['AWS::Kinesis::Stream'\]"):
        Emulator(template=template, stack_name="odd").start()


_LOGGING_HANDLER = """
    from aws_lambda_powertools import Logger

    logger = Logger()

    @logger.inject_lambda_context
    def handler(event, context):
        print("plain print from the handler")
        logger.info("structured line", order=event["order"])
        return {"ok": True}
"""


@pytest.mark.parametrize("run", [1, 2])  # the second run proves it in a second emulator
def test_what_a_function_prints_and_logs_lands_in_its_log_group(tmp_path: Path, run: int) -> None:
    # Given a function that prints and logs with Powertools
    template = _write_stack(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          OrdersFunction:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.13
              CodeUri: orders/
              Handler: app.handler
              Environment: {Variables: {POWERTOOLS_SERVICE_NAME: orders}}
        """,
        {"orders": _LOGGING_HANDLER},
    )
    with Emulator(template=template, stack_name="logs") as aws:
        # When it is invoked twice through the Lambda API
        for order in ("o-1", "o-2"):
            response = aws.client("lambda").invoke(
                FunctionName="logs-OrdersFunction", Payload=json.dumps({"order": order})
            )
            assert "FunctionError" not in response
        first, second = (i.request_id for i in aws.runtime.history)

        # Then each invocation's output is in /aws/lambda/<name>, in a stream of its own
        logs = aws.client("logs")
        group = "/aws/lambda/logs-OrdersFunction"
        lines = {
            stream["logStreamName"]: [
                e["message"]
                for e in logs.get_log_events(
                    logGroupName=group, logStreamName=stream["logStreamName"]
                )["events"]
            ]
            for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]
        }
    assert set(lines) == {f"emulated/{first}", f"emulated/{second}"}
    first_lines = lines[f"emulated/{first}"]
    assert "plain print from the handler" in first_lines
    structured = [json.loads(line) for line in first_lines if line.startswith("{")]
    assert [s["message"] for s in structured] == ["structured line"]
    assert structured[0]["order"] == "o-1"
    assert structured[0]["function_request_id"] == first
    # and the first invocation is a cold start, the second is not
    assert structured[0]["cold_start"] is True
    assert json.loads(lines[f"emulated/{second}"][-1])["cold_start"] is False


def test_stop_deployment_stops_an_in_place_deployment_as_codedeploy_does(aws: Emulator) -> None:
    # Given an EC2/on-premises (in-place) deployment group with one successful release
    codedeploy = aws.client("codedeploy")
    codedeploy.create_application(applicationName="shop", computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName="shop",
        deploymentGroupName="fleet",
        serviceRoleArn=f"arn:aws:iam::{aws.account_id}:role/codedeploy-service",
    )

    def release(key: str) -> str:
        revision = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": key}}
        return str(
            codedeploy.create_deployment(
                applicationName="shop", deploymentGroupName="fleet", revision=revision
            )["deploymentId"]
        )

    def status(deployment_id: str) -> dict[str, object]:
        return dict(codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"])

    good = release("v1.zip")
    assert [status(good)["status"] for _ in range(2)] == ["InProgress", "Succeeded"]
    # and a second release being installed
    running = release("v2.zip")
    assert status(running)["status"] == "InProgress"

    # When it is stopped, asking CodeDeploy to roll back
    answer = codedeploy.stop_deployment(deploymentId=running, autoRollbackEnabled=True)

    # Then it is stopped, saying why, and the last good release is being redeployed
    assert answer["status"] == "Succeeded"
    stopped = status(running)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "MANUAL_STOP"
    rollback = stopped["rollbackInfo"]["rollbackDeploymentId"]
    redeployed = status(rollback)
    assert redeployed["revision"]["s3Location"]["key"] == "v1.zip"
    assert redeployed["creator"] == "codeDeployRollback"
    # and stopping it again, or a finished one, is refused as CodeDeploy refuses it
    for ended in (running, good):
        with pytest.raises(codedeploy.exceptions.DeploymentAlreadyCompletedException):
            codedeploy.stop_deployment(deploymentId=ended)
    with pytest.raises(codedeploy.exceptions.DeploymentDoesNotExistException):
        codedeploy.stop_deployment(deploymentId="d-NOSUCHONE")
