"""The first state's checks of an ECS service's routes (bluegreen.requests.live), pure.

A CodeDeploy group switches between the service's target group and one other, through
listeners that exist and forward to those two only; an ECS-native service names its
alternate target group and a production rule that exist and forward to its two groups
only. Each refusal names the field.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.errors import InvalidInput
from bluegreen.requests.live import check_codedeploy_routes, check_native_routes

pytestmark = pytest.mark.unit

ELB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
BLUE = f"{ELB}targetgroup/web-blue/1111"
GREEN = f"{ELB}targetgroup/web-green/2222"
OTHER = f"{ELB}targetgroup/billing/3333"
PROD = f"{ELB}listener/app/web-alb/0f3c/aa01"
TEST = f"{ELB}listener/app/web-alb/0f3c/aa09"
RULE = f"{ELB}listener-rule/app/web-alb/0f3c/aa01/bb02"


class NotFound(Exception):
    pass


def forward(**weights: int) -> list[dict[str, Any]]:
    arns = {"blue": BLUE, "green": GREEN, "other": OTHER}
    groups = [{"TargetGroupArn": arns[k], "Weight": w} for k, w in weights.items()]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]


class Elbv2:
    class exceptions:  # botocore's naming
        ListenerNotFoundException = NotFound
        RuleNotFoundException = NotFound
        TargetGroupNotFoundException = NotFound

    def __init__(self, **routes: list[dict[str, Any]]) -> None:
        self.routes = {PROD: forward(blue=100), TEST: forward(blue=100), RULE: forward(blue=100)}
        self.routes.update({globals()[k]: v for k, v in routes.items()})
        self.groups = {BLUE, GREEN, OTHER}

    def describe_listeners(self, ListenerArns: list[str]) -> dict[str, Any]:
        if any(a not in self.routes for a in ListenerArns):
            raise NotFound
        return {
            "Listeners": [
                {"ListenerArn": a, "DefaultActions": self.routes[a]} for a in ListenerArns
            ]
        }

    def describe_rules(self, RuleArns: list[str]) -> dict[str, Any]:
        if any(a not in self.routes for a in RuleArns):
            raise NotFound
        return {"Rules": [{"RuleArn": a, "Actions": self.routes[a]} for a in RuleArns]}

    def describe_target_groups(self, TargetGroupArns: list[str]) -> dict[str, Any]:
        if any(a not in self.groups for a in TargetGroupArns):
            raise NotFound
        return {"TargetGroups": [{"TargetGroupArn": a} for a in TargetGroupArns]}


SERVICE = {"serviceName": "web", "loadBalancers": [{"targetGroupArn": BLUE}]}


def group(names: list[str] | None = None, prod: list[str] | None = None) -> dict[str, Any]:
    return {
        "loadBalancerInfo": {
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": n} for n in (names or ["web-blue", "web-green"])],
                    "prodTrafficRoute": {"listenerArns": [PROD] if prod is None else prod},
                    "testTrafficRoute": {"listenerArns": [TEST]},
                }
            ]
        }
    }


def refused(call: Any, *args: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        call(*args)
    return error.value


def test_a_codedeploy_group_between_the_services_group_and_another_passes() -> None:
    check_codedeploy_routes(group(), SERVICE, Elbv2())
    check_codedeploy_routes(group(), SERVICE, Elbv2(PROD=forward(blue=0, green=100)))


@pytest.mark.parametrize(
    ("given", "elbv2", "reason"),
    [
        (group(["billing", "web-green"]), Elbv2(), "shifts between target groups ['billing'"),
        (group(prod=[]), Elbv2(), "names no production listener"),
        (group(prod=[PROD.replace("aa01", "dead")]), Elbv2(), "does not exist"),
        (group(), Elbv2(PROD=forward(blue=90, other=10)), f"also forwards to {OTHER}"),
        (group(), Elbv2(TEST=[{"Type": "fixed-response"}]), "has no forward action"),
        ({"loadBalancerInfo": {}}, Elbv2(), "has no target group pair"),
    ],
)
def test_a_codedeploy_group_that_would_switch_something_else_is_refused(
    given: dict[str, Any], elbv2: Elbv2, reason: str
) -> None:
    error = refused(check_codedeploy_routes, given, SERVICE, elbv2)
    assert error.field == "codeDeploy.deploymentGroup"
    assert reason in error.reason, error.reason


def native(**advanced: str) -> dict[str, Any]:
    config = {"alternateTargetGroupArn": GREEN, "productionListenerRule": RULE, **advanced}
    return {
        "serviceName": "web",
        "loadBalancers": [{"targetGroupArn": BLUE, "advancedConfiguration": config}],
    }


def test_an_ecs_native_service_with_its_two_groups_and_rules_passes() -> None:
    check_native_routes(native(testListenerRule=RULE), Elbv2())


@pytest.mark.parametrize(
    ("service", "elbv2", "reason"),
    [
        (SERVICE, Elbv2(), "has no advancedConfiguration"),
        (native(alternateTargetGroupArn=f"{ELB}targetgroup/gone/9"), Elbv2(), "no target group"),
        (native(productionListenerRule=RULE + "0"), Elbv2(), "no listener rule of the service"),
        (native(), Elbv2(RULE=forward(blue=50, other=50)), f"also forwards to {OTHER}"),
    ],
)
def test_an_ecs_native_service_whose_routes_do_not_hang_together_is_refused(
    service: dict[str, Any], elbv2: Elbv2, reason: str
) -> None:
    error = refused(check_native_routes, service, elbv2)
    assert error.field == "service"
    assert reason in error.reason, error.reason
