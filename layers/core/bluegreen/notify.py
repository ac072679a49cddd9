"""People told: the stack's deployment events as readable SNS messages.

The notifier function (functions/notifier) receives every `Switch Started`, `Switch
Approval Needed`, `Switch Rolled Back`, `Switch Failed` and `Switch Succeeded` event the
stack puts on EventBridge (see `announce`) and publishes one message per event to the
topic named by the `NotificationTopicArn` parameter: a subject a phone can show, and a
body with what, who, from -> to, why it rolled back or failed, the figures the event
carried, and where to look. Message attributes (`detailType`, `platform`,
`deploymentId`) let a subscription filter, e.g. a pager that only gets failures.

`message(event, links)` is pure (tests render it without AWS); `publish` sends it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from . import announce, settings
from .aws import Clients
from .errors import BlueGreenError

SUBJECT_LIMIT = 100  # SNS: at most 100 printable ASCII characters, no line breaks
BODY_LIMIT = 200_000  # SNS allows 256 KB; leave room for the envelope
NOTIFIED = (
    announce.STARTED,
    announce.APPROVAL_NEEDED,
    announce.ROLLED_BACK,
    announce.FAILED,
    announce.SUCCEEDED,
)
# Fields shown in their own lines; every other scalar in the detail is a "figure".
_KNOWN = {
    "deploymentId", "platform", "from", "to", "live", "idle", "requestedBy", "cause",
    "failedAt", "error", "executionArn", "steps", "mode", "summary", "version",
}  # fmt: skip
_SECRET = {"taskToken"}  # a capability: whoever holds it can approve; never sent to people
_HEADLINES = {
    announce.STARTED: "started",
    announce.APPROVAL_NEEDED: "waits for approval",
    announce.ROLLED_BACK: "ROLLED BACK",
    announce.FAILED: "FAILED",
    announce.SUCCEEDED: "succeeded",
}


class NotSwitchEvent(BlueGreenError):
    """The event is not one of the stack's switch events (wrong rule pattern?)."""


@dataclass(frozen=True)
class NotifierSettings:
    """Environment of the notifier function (see template.yaml)."""

    NOTIFICATION_TOPIC_ARN: str
    STATE_MACHINE_ARN: str = ""
    DASHBOARD_NAME: str = ""


@dataclass(frozen=True)
class Links:
    """Where a person looks next: the execution, the dashboard (AWS console)."""

    region: str
    state_machine_arn: str = ""
    dashboard_name: str = ""

    def execution(self, deployment_id: str, execution_arn: str = "") -> str:
        arn = execution_arn or (
            self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{deployment_id}"
            if self.state_machine_arn
            else ""
        )
        if not arn:
            return ""
        return (
            f"https://{self.region}.console.aws.amazon.com/states/home?region={self.region}"
            f"#/v2/executions/details/{quote(arn, safe=':')}"
        )

    def dashboard(self) -> str:
        if not self.dashboard_name:
            return ""
        return (
            f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards/dashboard/{quote(self.dashboard_name)}"
        )


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    attributes: dict[str, str]


@dataclass
class NotifierDeps:
    sns: Any
    topic_arn: str
    links: Links


def notifier_deps(clients: Clients | None = None) -> NotifierDeps:
    config = settings.load(NotifierSettings)
    clients = clients or Clients()
    return NotifierDeps(
        sns=clients.sns,
        topic_arn=config.NOTIFICATION_TOPIC_ARN,
        links=Links(
            region=str(clients.sns.meta.region_name),
            state_machine_arn=config.STATE_MACHINE_ARN,
            dashboard_name=config.DASHBOARD_NAME,
        ),
    )


def publish(event: Mapping[str, Any], deps: NotifierDeps) -> dict[str, str]:
    """Publish the event's message to the topic; returns the SNS message id."""
    built = message(event, deps.links)
    answer = deps.sns.publish(
        TopicArn=deps.topic_arn,
        Subject=built.subject,
        Message=built.body,
        MessageAttributes={
            key: {"DataType": "String", "StringValue": value}
            for key, value in built.attributes.items()
            if value
        },
    )
    return {"messageId": str(answer["MessageId"]), "subject": built.subject}


# -- the message -----------------------------------------------------------------------------
def message(event: Mapping[str, Any], links: Links) -> Message:
    if not isinstance(event, Mapping):
        raise NotSwitchEvent(f"not an EventBridge event: {type(event).__name__}")
    kind = str(event.get("detail-type", ""))
    detail = event.get("detail")
    if kind not in NOTIFIED or not isinstance(detail, Mapping):
        raise NotSwitchEvent(f"not a switch event this notifier handles: {kind!r}")
    deployment_id = str(detail.get("deploymentId", "?"))
    platform = str(detail.get("platform", "?"))
    moved = _moved(detail)
    subject = _subject(kind, platform, deployment_id, moved)
    lines = [f"Deployment {deployment_id} ({platform}) {_HEADLINES[kind]}.", ""]
    lines += _what(kind, detail, moved)
    lines += _why(kind, detail)
    lines += _figures(detail)
    lines += _where(kind, deployment_id, detail, links)
    where = f"{event.get('account', '?')}/{event.get('region', '?')}"
    lines += [
        "",
        f"Event: {kind} from {event.get('source', '?')} at {event.get('time', '')} in {where}",
    ]
    body = "\n".join(lines)
    return Message(
        subject=subject,
        body=body[:BODY_LIMIT],
        attributes={"detailType": kind, "platform": platform, "deploymentId": deployment_id},
    )


def _subject(kind: str, platform: str, deployment_id: str, moved: str) -> str:
    text = f"[bluegreen] {platform} {deployment_id} {_HEADLINES[kind]}"
    if moved:
        text += f": {moved}"
    printable = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return printable if len(printable) <= SUBJECT_LIMIT else printable[: SUBJECT_LIMIT - 3] + "..."


def _what(kind: str, detail: Mapping[str, Any], moved: str) -> list[str]:
    lines = []
    if moved:
        lines.append(f"What:   {moved}")
    if detail.get("mode"):
        lines.append(f"How:    {detail['mode']} blue/green")
    steps = detail.get("steps")
    if isinstance(steps, list) and steps and all(isinstance(s, int | float) for s in steps):
        lines.append(f"Steps:  {' -> '.join(f'{s}%' for s in steps)}")
    if detail.get("version"):
        lines.append(f"Release: {detail['version']}")
    if detail.get("requestedBy"):
        lines.append(f"Who:    {detail['requestedBy']}")
    if kind == announce.SUCCEEDED and detail.get("live"):
        lines.append(f"Live:   {short_name(str(detail['live']))}")
    if detail.get("summary"):
        lines.append(f"Result: {detail['summary']}")
    return lines


def _why(kind: str, detail: Mapping[str, Any]) -> list[str]:
    if kind not in {announce.ROLLED_BACK, announce.FAILED}:
        return []
    lines = ["", "Why:"]
    if detail.get("failedAt"):
        lines.append(f"  failed at: {detail['failedAt']}")
    if detail.get("error"):
        lines.append(f"  error:     {detail['error']}")
    lines.append(f"  cause:     {detail.get('cause') or 'not given'}")
    if kind == announce.ROLLED_BACK:
        lines.append("  traffic was restored to the snapshot taken before the first change")
    else:
        lines.append("  traffic may not be where the switch left it: check it before retrying")
    return lines


def _figures(detail: Mapping[str, Any]) -> list[str]:
    figures = {
        key: value
        for key, value in detail.items()
        if key not in _KNOWN and key not in _SECRET and value not in (None, "", [], {})
    }
    if not figures:
        return []
    lines = ["", "Figures:"]
    for key in sorted(figures):
        lines.append(f"  {key}: {_figure(figures[key])}")
    return lines


def _figure(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{short_name(str(k))} {_figure(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_figure(v) for v in value)
    if isinstance(value, str):
        return short_name(value) if value.startswith("arn:") else value
    return json.dumps(value, default=str)


def _where(kind: str, deployment_id: str, detail: Mapping[str, Any], links: Links) -> list[str]:
    lines = ["", "Where to look:"]
    if kind == announce.APPROVAL_NEEDED:
        lines.append(f"  approve:   bluegreen approve {deployment_id} --comment '...'")
        lines.append(f"  reject:    bluegreen abort {deployment_id} --reason '...'")
    lines.append(f"  status:    bluegreen status {deployment_id}")
    lines.append(f"  record:    bluegreen history {deployment_id}")
    execution = links.execution(deployment_id, str(detail.get("executionArn") or ""))
    if execution:
        lines.append(f"  execution: {execution}")
    dashboard = links.dashboard()
    if dashboard:
        lines.append(f"  dashboard: {dashboard}")
    return lines


def _moved(detail: Mapping[str, Any]) -> str:
    source = detail.get("from") or detail.get("idle")
    target = detail.get("to") or detail.get("live")
    if not source or not target:
        return ""
    return f"{short_name(str(source))} -> {short_name(str(target))}"


def short_name(arn: str) -> str:
    """`shop-green` from a target group ARN, `web:42` from a task definition ARN."""
    if ":targetgroup/" in arn:
        return arn.split(":targetgroup/", 1)[1].split("/", 1)[0]
    if arn.startswith("arn:"):
        return arn.rsplit("/", 1)[-1] or arn
    return arn
