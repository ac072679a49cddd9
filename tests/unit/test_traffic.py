"""ALB routes: snapshot, weighted forward, restore and read-back, against an in-memory ELB.

What the switch relies on: a snapshot keeps every action of a route (not only the
forward), a weight change touches only the forward action and is read back, a read-back
that differs raises RouteMismatch naming the route, and a restore puts the snapshot back
exactly and verifies it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bluegreen.platforms import alb as traffic

pytestmark = pytest.mark.unit

ALB = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
LISTENER = f"{ALB}:listener/app/shop-alb/0123abcd/4567ef01"
RULE = f"{ALB}:listener-rule/app/shop-alb/0123abcd/4567ef01/89ab"
BLUE = f"{ALB}:targetgroup/shop-blue/0a0a"
GREEN = f"{ALB}:targetgroup/shop-green/0b0b"


def forward(weights: dict[str, int]) -> dict[str, Any]:
    groups = [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()]
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}


class FakeElb:
    """Listeners and rules in memory; `reads_back` can override what a describe returns."""

    def __init__(self) -> None:
        self.listeners: dict[str, list[dict[str, Any]]] = {}
        self.rules: dict[str, list[dict[str, Any]]] = {}
        self.reads_back: dict[str, list[dict[str, Any]]] = {}
        self.writes: list[tuple[str, list[dict[str, Any]]]] = []

    def describe_listeners(self, ListenerArns: list[str]) -> dict[str, Any]:
        return {
            "Listeners": [
                {"ListenerArn": a, "DefaultActions": copy.deepcopy(self._read(a, self.listeners))}
                for a in ListenerArns
            ]
        }

    def describe_rules(self, RuleArns: list[str]) -> dict[str, Any]:
        return {
            "Rules": [
                {"RuleArn": a, "Actions": copy.deepcopy(self._read(a, self.rules))}
                for a in RuleArns
            ]
        }

    def modify_listener(self, ListenerArn: str, DefaultActions: list[dict[str, Any]]) -> None:
        self.writes.append((ListenerArn, copy.deepcopy(DefaultActions)))
        self.listeners[ListenerArn] = copy.deepcopy(DefaultActions)

    def modify_rule(self, RuleArn: str, Actions: list[dict[str, Any]]) -> None:
        self.writes.append((RuleArn, copy.deepcopy(Actions)))
        self.rules[RuleArn] = copy.deepcopy(Actions)

    def _read(self, arn: str, store: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return self.reads_back.get(arn, store[arn])


@pytest.fixture
def elb() -> FakeElb:
    fake = FakeElb()
    auth = {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {"Issuer": "x"}}
    fake.listeners[LISTENER] = [auth, {**forward({BLUE: 100, GREEN: 0}), "Order": 2}]
    # a plain single-group forward, as AWS describes it: TargetGroupArn and ForwardConfig
    fake.rules[RULE] = [
        {
            "Type": "forward",
            "TargetGroupArn": BLUE,
            "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": BLUE, "Weight": 1}]},
        }
    ]
    return fake


ROUTES = traffic.routes_from([LISTENER], [RULE])


def test_a_rule_is_locked_under_its_listener() -> None:
    assert traffic.listener_of({"kind": "rule", "arn": RULE}) == LISTENER
    assert traffic.listener_of({"kind": "listener", "arn": LISTENER}) == LISTENER


def test_a_snapshot_keeps_every_action_in_a_form_modify_accepts(elb: FakeElb) -> None:
    saved = traffic.snapshot_routes(elb, ROUTES)
    assert [(r["kind"], r["arn"]) for r in saved] == [("listener", LISTENER), ("rule", RULE)]
    listener_actions = saved[0]["actions"]
    assert listener_actions[0]["Type"] == "authenticate-oidc"  # untouched, kept
    # a forward never carries both TargetGroupArn and ForwardConfig (Modify* refuses that)
    rule_forward = saved[1]["actions"][0]
    assert "TargetGroupArn" not in rule_forward
    assert traffic.forward_weights(saved[1]["actions"]) == {BLUE: 1}


def test_setting_weights_changes_only_the_forward_action_and_reads_it_back(
    elb: FakeElb,
) -> None:
    saved = traffic.snapshot_routes(elb, ROUTES)

    observed = traffic.set_weights(elb, saved, {BLUE: 90, GREEN: 10})

    assert observed == [
        {"kind": "listener", "arn": LISTENER, "weights": {BLUE: 90, GREEN: 10}},
        {"kind": "rule", "arn": RULE, "weights": {BLUE: 90, GREEN: 10}},
    ]
    assert elb.listeners[LISTENER][0]["Type"] == "authenticate-oidc"
    assert elb.listeners[LISTENER][1]["Order"] == 2
    assert [arn for arn, _ in elb.writes] == [LISTENER, RULE]


def test_weights_that_read_back_differently_raise_naming_the_route(elb: FakeElb) -> None:
    saved = traffic.snapshot_routes(elb, ROUTES)
    elb.reads_back[RULE] = [forward({BLUE: 100, GREEN: 0})]  # the write did not take

    with pytest.raises(traffic.RouteMismatch) as mismatch:
        traffic.set_weights(elb, saved, {BLUE: 50, GREEN: 50})

    assert f"rule {RULE}: read back weights" in str(mismatch.value)
    assert "expected" in str(mismatch.value)


def test_a_zero_weight_reads_back_the_same_as_an_absent_group(elb: FakeElb) -> None:
    saved = traffic.snapshot_routes(elb, ROUTES)
    traffic.set_weights(elb, saved, {BLUE: 0, GREEN: 100})
    elb.reads_back[RULE] = [forward({GREEN: 100})]

    observed = traffic.verify(elb, saved, {RULE: {BLUE: 0, GREEN: 100}, LISTENER: {GREEN: 100}})

    assert [o["weights"] for o in observed] == [{BLUE: 0, GREEN: 100}, {GREEN: 100}]


def test_a_restore_writes_the_snapshot_back_exactly_and_verifies_it(elb: FakeElb) -> None:
    before = copy.deepcopy((elb.listeners, elb.rules))
    saved = traffic.snapshot_routes(elb, ROUTES)
    traffic.set_weights(elb, saved, {BLUE: 0, GREEN: 100})

    observed = traffic.restore_routes(elb, saved)

    assert [o["weights"] for o in observed] == [{BLUE: 100, GREEN: 0}, {BLUE: 1}]
    assert elb.listeners == before[0]
    assert traffic.forward_weights(elb.rules[RULE]) == {BLUE: 1}


def test_a_route_without_a_forward_action_is_refused() -> None:
    with pytest.raises(traffic.RouteNotForwarding):
        traffic.weighted_actions([{"Type": "fixed-response"}], {BLUE: 1})
    assert traffic.forward_weights([{"Type": "redirect"}]) == {}
