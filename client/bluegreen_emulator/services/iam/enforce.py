"""IAM enforced per call: every AWS call a role makes in the emulated account is authorized.

The role's policies are read from the account's IAM (moto), where the deployment put
them from the SAM-transformed template: the inline policies and the managed policies
attached, AWS managed ones included. Each call becomes the requests IAM authorizes
(requests.py) and each request is evaluated (policy.py); a denied call fails as AWS
fails it, with the service's error code (`AccessDenied` for query-protocol services,
`AccessDeniedException` for the others) and AWS's message: "User: <assumed role> is
not authorized to perform: <action> on resource: <arn> because no identity-based
policy allows the <action> action".

`decisions` records every request evaluated (principal, action, resource, allowed, the
statement that decided), so a test can tell which statement a path needs.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from moto.codedeploy.models import codedeploy_backends
from moto.dynamodb.models import dynamodb_backends
from moto.iam.models import iam_backends

from bluegreen_security.calls import iam_prefix

from ...core import identity
from .policy import Decision, Request, evaluate
from .requests import Call, requests_for

if TYPE_CHECKING:
    from ...core.host import Host


@dataclass(frozen=True)
class Evaluated:
    principal: str
    action: str
    resource: str
    allowed: bool
    statement: str | None  # "<role>/<policy>#<index>" of the statement that decided


# Calls AWS answers for any caller, whatever its policies say: "No permissions are
# required to perform this operation. If an administrator attaches a policy to your
# identity that explicitly denies access to the sts:GetCallerIdentity action, you can
# still perform this operation" (AWS STS API Reference, GetCallerIdentity).
NO_PERMISSION_NEEDED = frozenset({("sts", "GetCallerIdentity")})


class AccessDenied(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class IamEnforcement:
    def __init__(self, host: Host) -> None:
        self.aws = host
        self.decisions: list[Evaluated] = []
        self._lock = threading.Lock()

    # -- the account, as IAM's request context needs it (requests.Account) ---------------
    @property
    def account_id(self) -> str:
        return self.aws.account_id

    @property
    def region(self) -> str:
        return self.aws.region

    def partition_key(self, table: str) -> str | None:
        backend = dynamodb_backends[self.account_id][self.region]
        found = backend.tables.get(table)
        return None if found is None else str(found.hash_key_attr)

    def deployment_group_of(self, deployment_id: str) -> tuple[str, str] | None:
        found = codedeploy_backends[self.account_id][self.region].deployments.get(deployment_id)
        if found is None:
            return None
        return str(found.application_name), str(found.deployment_group_name)

    def tags(self, arn: str) -> dict[str, str]:
        with identity.acting_as(None):
            try:
                return _tags_of(self.aws, arn)
            except Exception:  # noqa: BLE001 - no tags readable: the resource has none
                return {}

    # -- evaluation ----------------------------------------------------------------------
    def statements_of(self, role_arn: str) -> list[tuple[str, dict[str, Any]]]:
        backend = iam_backends[self.account_id]["global"]
        name = role_arn.rsplit("/", 1)[-1]
        role = backend.get_role(name)
        found: list[tuple[str, dict[str, Any]]] = []
        for policy_name, document in sorted(role.policies.items()):
            found += _statements(f"{name}/{policy_name}", document)
        for arn, managed in sorted(role.managed_policies.items()):
            default = next(v for v in managed.versions if v.is_default)
            found += _statements(f"{name}/{arn.rsplit('/', 1)[-1]}", default.document)
        return found

    def authorize(self, principal: str, service: str, operation: str, params: Any) -> None:
        """Raise AccessDenied unless `principal` may make this call."""
        call = Call(iam_prefix(service), operation, dict(params or {}))
        if (call.prefix, call.operation) in NO_PERMISSION_NEEDED:
            return
        statements = self.statements_of(principal)
        for request in requests_for(call, principal, self):
            decision = evaluate(statements, request)
            self._record(principal, request, decision)
            if not decision.allowed:
                raise _denied(service, principal, request, decision)

    def _record(self, principal: str, request: Request, decision: Decision) -> None:
        with self._lock:
            self.decisions.append(
                Evaluated(
                    principal,
                    request.action,
                    request.resource,
                    decision.allowed,
                    decision.statement,
                )
            )


def _statements(where: str, document: Any) -> list[tuple[str, dict[str, Any]]]:
    parsed = json.loads(unquote(document)) if isinstance(document, str) else document
    statements = parsed.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [(f"{where}#{index}", s) for index, s in enumerate(statements)]


_QUERY_STYLE = {"query", "ec2"}


def error_code(service_model: Any) -> str:
    metadata = service_model.metadata
    if metadata.get("protocol") in _QUERY_STYLE or "awsQueryCompatible" in metadata:
        return "AccessDenied"
    return "AccessDeniedException"


def _denied(service: str, principal: str, request: Request, decision: Decision) -> AccessDenied:
    role = principal.rsplit("/", 1)[-1]
    account = principal.split(":")[4]
    who = f"arn:aws:sts::{account}:assumed-role/{role}/emulated"
    why = (
        f"with an explicit deny in an identity-based policy ({decision.statement})"
        if decision.explicit_deny
        else f"because no identity-based policy allows the {request.action} action"
    )
    on = "" if request.resource == "*" else f" on resource: {request.resource}"
    message = f"User: {who} is not authorized to perform: {request.action}{on} {why}"
    status = 400 if service == "dynamodb" else 403
    return AccessDenied("", message, status)


def denial_response(exc: AccessDenied, service_model: Any) -> tuple[Any, dict[str, Any]]:
    """What botocore's `before-call` returns to fail the call like AWS."""
    code = error_code(service_model)
    parsed = {
        "Error": {"Code": code, "Message": exc.message, "Type": "Sender"},
        "ResponseMetadata": {
            "HTTPStatusCode": exc.status,
            "HTTPHeaders": {},
            "RequestId": str(uuid.uuid4()),
            "RetryAttempts": 0,
        },
    }
    if code == "AccessDeniedException":
        parsed["message"] = exc.message
    return _Http(exc.status), parsed


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""
        self.raw = None


# service -> (boto3 client, parameter naming the resource, answer key) of its tag listing
_TAG_LISTS = {
    "ecs": ("ecs", "resourceArn", "tags"),
    "states": ("stepfunctions", "resourceArn", "tags"),
    "events": ("events", "ResourceARN", "Tags"),
    "codedeploy": ("codedeploy", "ResourceArn", "Tags"),
    "cloudwatch": ("cloudwatch", "ResourceARN", "Tags"),
}


def _tags_of(host: Host, arn: str) -> dict[str, str]:
    service = arn.split(":")[2]
    if service == "elasticloadbalancing":
        described = host.client("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"]
        return {t["Key"]: t["Value"] for d in described for t in d.get("Tags", [])}
    if service == "dynamodb":
        table_arn = "/".join(arn.split("/")[:2])  # an index's tags are its table's
        tags = host.client("dynamodb").list_tags_of_resource(ResourceArn=table_arn)["Tags"]
        return {t["Key"]: t["Value"] for t in tags}
    if service == "lambda":
        return dict(host.client("lambda").list_tags(Resource=arn)["Tags"])
    if service not in _TAG_LISTS:
        return {}
    client, parameter, key = _TAG_LISTS[service]
    listed = host.client(client).list_tags_for_resource(**{parameter: arn})[key]
    if isinstance(listed, dict):
        return dict(listed)
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in listed}
