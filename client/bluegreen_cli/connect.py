"""Where the CLI talks to: an AWS account (profile, region) or an emulator (endpoint URL),
and the stack's resources in it.

On AWS the stack is found by name with CloudFormation `DescribeStacks` (its outputs) and
`DescribeStackResource`. A local emulator (`--endpoint-url`) deploys the template
without CloudFormation, so when the endpoint has no such stack the resources are found
by the names the template gives them: the state machine is `<stack>-switch`, the table
and functions start with `<stack>-<LogicalId>` (CloudFormation's own naming scheme).
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from .exits import BAD_INPUT, CliError

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30
)
_LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class Target:
    """What the user said to talk to."""

    stack: str = "bluegreen"
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @property
    def local(self) -> bool:
        """An endpoint on this machine: an emulator, where any credentials do."""
        if not self.endpoint_url:
            return False
        host = urlsplit(self.endpoint_url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


class Aws:
    """boto3 clients for one target, created on first use and shared."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        try:
            self.session = boto3.session.Session(
                profile_name=target.profile, region_name=target.region
            )
        except ProfileNotFound:
            raise CliError(
                f"no AWS profile named {target.profile!r}",
                "list yours with `aws configure list-profiles`, or drop --profile",
                BAD_INPUT,
            ) from None
        self.region = self.session.region_name or ("us-east-1" if target.local else None)
        if self.region is None:
            raise CliError(
                "no AWS region configured",
                "pass --region (e.g. --region eu-west-1) or set AWS_REGION",
                BAD_INPUT,
            )
        self._credentials: dict[str, str] = {}
        if target.local and self.session.get_credentials() is None:
            self._credentials = dict(_LOCAL_CREDENTIALS)  # an emulator accepts any

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=self.target.endpoint_url,
                    config=_CONFIG,
                    **self._credentials,
                )
            return self._clients[service]

    def where(self) -> str:
        if self.target.endpoint_url:
            return f"the endpoint {self.target.endpoint_url}"
        profile = f"profile {self.target.profile}, " if self.target.profile else ""
        return f"AWS ({profile}region {self.region})"


@dataclass
class Stack:
    """The deployed bundle's resources the CLI uses."""

    name: str
    state_machine_arn: str
    table: str
    _aws: Aws = field(repr=False)
    _functions: dict[str, str] = field(default_factory=dict, repr=False)
    _from_cloudformation: bool = True

    def function(self, logical_id: str) -> str:
        """Physical name of one of the stack's functions (e.g. `RollbackFunction`)."""
        if logical_id not in self._functions:
            self._functions[logical_id] = (
                _stack_resource(self._aws, self.name, logical_id)
                if self._from_cloudformation
                else _function_by_prefix(self._aws, self.name, logical_id)
            )
        return self._functions[logical_id]


def discover(aws: Aws, stack_name: str) -> Stack:
    """The stack's state machine and table: CloudFormation first, names on an emulator."""
    cloudformation = aws.client("cloudformation")
    try:
        stacks = call(aws, cloudformation.describe_stacks, StackName=stack_name)["Stacks"]
    except CliError as missing:
        if "does not exist" not in missing.message:
            raise
        if not aws.target.endpoint_url:
            raise CliError(
                f"no stack {stack_name!r} in {aws.where()}",
                "pass --stack with the name given to `sam deploy` (and the right "
                "--region/--profile), or --endpoint-url for the local emulator",
                BAD_INPUT,
            ) from None
        return _discover_by_names(aws, stack_name)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing_keys = {"SwitchStateMachineArn", "DeploymentsTableName"} - set(outputs)
    if missing_keys:
        raise CliError(
            f"stack {stack_name!r} has no output {sorted(missing_keys)[0]}",
            "is it a bluegreen stack? deploy this project's template.yaml with `sam deploy`",
            BAD_INPUT,
        )
    return Stack(stack_name, outputs["SwitchStateMachineArn"], outputs["DeploymentsTableName"], aws)


def _discover_by_names(aws: Aws, stack_name: str) -> Stack:
    sfn = aws.client("stepfunctions")
    machines = [
        m["stateMachineArn"]
        for page in sfn.get_paginator("list_state_machines").paginate()
        for m in page["stateMachines"]
        if m["name"] == f"{stack_name}-switch"
    ]
    tables = [
        t
        for page in aws.client("dynamodb").get_paginator("list_tables").paginate()
        for t in page["TableNames"]
        if t.startswith(f"{stack_name}-DeploymentsTable")
    ]
    if not machines or not tables:
        raise CliError(
            f"no bluegreen stack {stack_name!r} at {aws.target.endpoint_url} "
            f"(looked for state machine {stack_name}-switch, "
            f"table {stack_name}-DeploymentsTable*)",
            "start the emulator with `make server` (it deploys the stack as 'bluegreen'), "
            "or pass --stack with the stack name it deployed",
            BAD_INPUT,
        )
    return Stack(stack_name, machines[0], tables[0], aws, _from_cloudformation=False)


def _stack_resource(aws: Aws, stack_name: str, logical_id: str) -> str:
    described = call(
        aws,
        aws.client("cloudformation").describe_stack_resource,
        StackName=stack_name,
        LogicalResourceId=logical_id,
    )
    return str(described["StackResourceDetail"]["PhysicalResourceId"])


def _function_by_prefix(aws: Aws, stack_name: str, logical_id: str) -> str:
    prefix = f"{stack_name}-{logical_id}"
    for page in aws.client("lambda").get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function["FunctionName"].startswith(prefix):
                return str(function["FunctionName"])
    raise CliError(
        f"no function {prefix}* at {aws.target.endpoint_url}",
        "is the emulator running this project's template? restart it with `make server`",
    )


def call(aws: Aws, operation: Any, **kwargs: Any) -> Any:
    """One AWS call, with the errors a person can act on turned into a CliError."""
    try:
        return operation(**kwargs)
    except NoCredentialsError:
        raise CliError(
            "no AWS credentials found",
            "pass --profile (or set AWS_PROFILE), or log in with `aws sso login`; "
            "for the local emulator pass --endpoint-url http://127.0.0.1:5005",
        ) from None
    except NoRegionError:
        raise CliError("no AWS region configured", "pass --region", BAD_INPUT) from None
    except EndpointConnectionError:
        where = aws.target.endpoint_url or f"AWS in {aws.region}"
        hint = (
            "is the emulator running? start it with `make server`"
            if aws.target.local
            else "check your network and --region"
        )
        raise CliError(f"cannot reach {where}", hint) from None
    except ClientError as error:
        raise _explain(aws, operation, error) from None
    except BotoCoreError as error:
        raise CliError(
            f"AWS SDK error: {error}", "retry; if it persists, run with --debug"
        ) from None


def _explain(aws: Aws, operation: Any, error: ClientError) -> CliError:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", str(error))
    name = getattr(operation, "__name__", "call")
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return CliError(
            f"access denied for {name} in {aws.where()}: {message}",
            "your role needs this action on the stack's resources; see the README "
            "(Operating it: the bluegreen CLI) or use the stack's CI role",
            aws_code=code,
        )
    if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
        return CliError(
            "your AWS session has expired", "log in again (e.g. `aws sso login`)", aws_code=code
        )
    return CliError(f"{name} failed: {code}: {message}", "", _code_for(code), aws_code=code)


def _code_for(aws_code: str) -> int:
    return (
        BAD_INPUT
        if aws_code
        in {"ValidationError", "ValidationException", "InvalidParameterValue", "InvalidArn"}
        else 1
    )
