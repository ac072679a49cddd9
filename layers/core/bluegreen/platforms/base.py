"""What every platform adapter does, whatever moves the traffic.

One adapter per thing that moves traffic: ALB weights (`alb`, the EC2 switch),
CodeDeploy ECS blue/green (`codedeploy-ecs`) and ECS-native blue/green (`ecs-native`);
the CodeDeploy EC2/on-premises in-place install of a release on the idle fleet is the
EC2 switch's preparation step (`codedeploy_ec2`). The plan names the adapter once
(`Plan["adapter"]`); the switch tasks, `settle`, the alarm function, the reaper and the
CLI all restore, stop and observe through these same methods.
"""

from __future__ import annotations

from typing import Protocol

from ..contracts import Observation, Plan, Snapshot


class Adapter(Protocol):
    kind: str

    def snapshot(self, plan: Plan) -> Snapshot:
        """Everything a restore will need, read before the first change."""
        ...

    def restore(self, snapshot: Snapshot) -> str:
        """Make traffic go back to what `snapshot` says (idempotent); what was done."""
        ...

    def complete(self, plan: Plan, snapshot: Snapshot) -> str:
        """What a success leaves behind besides production traffic (idempotent)."""
        ...

    def observe(self, plan: Plan, snapshot: Snapshot) -> Observation:
        """Read traffic back from the platform: which side production serves."""
        ...
