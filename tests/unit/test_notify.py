"""The message people read for each switch event: subject, what, who, why, figures, links."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.notify import Links, NotSwitchEvent, message

pytestmark = pytest.mark.unit

TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup"
LINKS = Links(
    region="eu-west-1",
    state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:bluegreen-switch",
    dashboard_name="bluegreen-deployments",
)


def event(kind: str, **detail: Any) -> dict[str, Any]:
    return {
        "source": "bluegreen",
        "detail-type": kind,
        "account": "123456789012",
        "region": "eu-west-1",
        "time": "2026-11-24T09:30:00Z",
        "detail": {"deploymentId": "rel-42", "platform": "EC2", **detail},
    }


def test_a_rollback_says_what_why_and_where_to_look() -> None:
    built = message(
        event(
            "Switch Rolled Back",
            failedAt="Gate",
            cause="Gate: GateFailed: shop-5xx is ALARM (42 target 5xx)",
            **{"from": f"{TG}/shop-blue/6d0e", "to": f"{TG}/shop-green/1d2e"},
        ),
        LINKS,
    )
    assert built.subject == "[bluegreen] EC2 rel-42 ROLLED BACK: shop-blue -> shop-green"
    assert "What:   shop-blue -> shop-green" in built.body
    assert "failed at: Gate" in built.body
    assert "cause:     Gate: GateFailed: shop-5xx is ALARM (42 target 5xx)" in built.body
    assert (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/"
        "details/arn:aws:states:eu-west-1:123456789012:execution:bluegreen-switch:rel-42"
    ) in built.body
    assert built.attributes == {
        "detailType": "Switch Rolled Back",
        "platform": "EC2",
        "deploymentId": "rel-42",
    }


def test_figures_are_listed_and_a_task_token_never_is() -> None:
    built = message(
        event(
            "Switch Approval Needed",
            taskToken="AQCEAAAAKgAAAAMAAAAA-secret",
            weights={f"{TG}/shop-blue/6d0e": 90, f"{TG}/shop-green/1d2e": 10},
            timeToRollbackMs=812,
        ),
        LINKS,
    )
    assert "secret" not in built.body
    assert "weights: shop-blue 90, shop-green 10" in built.body
    assert "timeToRollbackMs: 812" in built.body
    assert "bluegreen approve rel-42" in built.body


def test_a_subject_fits_sns_limits() -> None:
    built = message(event("Switch Started", requestedBy="é" * 200), LINKS)
    long = message(event("Switch Started", **{"from": "a" * 90, "to": "b" * 90}), LINKS)
    assert len(long.subject) == 100 and long.subject.endswith("...")
    assert built.subject.isascii()


def test_an_event_that_is_not_a_switch_event_is_refused_by_name() -> None:
    with pytest.raises(NotSwitchEvent, match="'Switch Step'"):
        message(event("Switch Step"), LINKS)
