"""Alarm rollback: a guarded CloudWatch alarm in ALARM rolls its deployments back at once.

CodeDeploy and ECS poll alarms; here EventBridge pushes `CloudWatch Alarm State Change`
to a function that restores traffic first and does the bookkeeping after.

**Lookup in one read.** A switch writes one guard item per alarm when it begins
(`pk = ALARM#<name>`, `sk = DEPLOY#<id>`, carrying the platform, the execution, the lock
keys and what a rollback needs) and deletes them when it ends; so one `Query` finds every
deployment an alarm guards, and the next call already restores traffic.

**Restore first.** At most two AWS calls before traffic is back: the `Query`, then one
`ModifyListener`/`ModifyRule` per production route (EC2), or one `StopDeployment`
(CodeDeploy ECS, `autoRollbackEnabled`) or `StopServiceDeployment` (ECS-native,
`ROLLBACK`). Nothing else runs in between: no idempotency lookup, no record read, no
client for a service not yet needed.

**Exactly once in effect, without a separate idempotency store.** Restoring a snapshot is
idempotent by nature (writing the same actions twice changes nothing), so a duplicate
delivery may restore again harmlessly. What must happen once is the ending, and that is
decided by a conditional write on the deployment record (`status = IN_PROGRESS` ->
`ROLLED_BACK`, storing the claim key `<alarm>@<state timestamp>`), the same fence the
state machine's `Finish` and `Rollback` use. A delivery that finds its own claim (a
duplicate, or a retry after a failure) finishes the idempotent bookkeeping that is left;
the announcement is guarded by a conditional marker; the guards are deleted last, so a
delivery after a complete rollback finds nothing and is a no-op. Powertools idempotency
(a DynamoDB persistence record per event) was not used: it costs a conditional write
*before* the handler runs (a third call before traffic is restored), and it could not
fence against the state machine's own rollback anyway.

**Racing the machine.** Whoever claims the record first owns the ending; the other records
nothing. If the machine already rolled back, the same snapshot was written twice. If the
switch succeeded between the `Query` and the restore, the record says the new colour is
live: the function puts the switch's final weights back and records nothing.
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
