"""Alarm rollback: a guarded CloudWatch alarm in ALARM rolls its deployments back at once.

CodeDeploy and ECS poll alarms; here EventBridge pushes `CloudWatch Alarm State Change`
to a function that settles every deployment the alarm guards, through the same
`settle` every other ending uses (`bluegreen.switch.endings`).

**Lookup in one read.** A switch writes one guard item per alarm when it begins
(`ALARM#<name>` / `DEPLOY#<id>`, carrying the platform, the execution, the locks and the
snapshot; the platform deployment is added once started) and settle deletes them; so one
`Query` finds every deployment an alarm guards, however long the switch has been baking.

**Claim, then restore.** The next call is the claim (a conditional write moving the record
to SETTLING with intent ROLLED_BACK and the claim key `<alarm>@<state timestamp>`), then
the restore: one `ModifyListener`/`ModifyRule` per production route (EC2), or one
`StopDeployment(autoRollbackEnabled)` (CodeDeploy ECS) or
`StopServiceDeployment(ROLLBACK)` (ECS-native). Claiming first costs one write before
traffic moves, and is what makes an alarm racing the switch's success harmless: if the
switch claimed SUCCEEDED first, the alarm changes nothing. Guarded deployments are
settled concurrently, so one does not wait for another's bookkeeping.

**Once in effect.** A duplicate delivery or a retry finds its own claim (same claim key)
and finishes what is left; anything else that claimed first owns the ending, and an ended
deployment is never rolled back again.
"""

from .event import AlarmChange, InvalidAlarmEvent
from .rollback import Report, RollbackDeps, RollbackIncomplete, roll_back

__all__ = [
    "AlarmChange",
    "InvalidAlarmEvent",
    "Report",
    "RollbackDeps",
    "RollbackIncomplete",
    "roll_back",
]
