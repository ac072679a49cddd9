"""ALB routing and ECS task registration, as the ECS deployment emulations change them."""

from __future__ import annotations

from typing import Any


def forward(weights: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()]
            },
        }
    ]


def route_listener(elbv2: Any, listener_arn: str, weights: dict[str, int]) -> None:
    elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=forward(weights))


def route_rule(elbv2: Any, rule_arn: str, weights: dict[str, int]) -> None:
    elbv2.modify_rule(RuleArn=rule_arn, Actions=forward(weights))


# ECS registers a task set's tasks (their IPs) in its target group
def register_tasks(elbv2: Any, target_group: str, count: int) -> None:
    group = elbv2.describe_target_groups(TargetGroupArns=[target_group])["TargetGroups"][0]
    if group.get("TargetType") != "ip" or count <= 0:
        return
    seed = int.from_bytes(target_group.encode()[-4:], "big") % 200
    targets = [
        {"Id": f"10.{seed}.{i // 250}.{i % 250 + 1}", "Port": group.get("Port", 80)}
        for i in range(count)
    ]
    elbv2.register_targets(TargetGroupArn=target_group, Targets=targets)


def deregister_tasks(elbv2: Any, target_group: str) -> None:
    described = elbv2.describe_target_health(TargetGroupArn=target_group)[
        "TargetHealthDescriptions"
    ]
    targets = [d["Target"] for d in described]
    if targets:
        elbv2.deregister_targets(TargetGroupArn=target_group, Targets=targets)
