"""The alarm rollback function's configuration and dependencies (built once per cold start)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import announce, settings
from ..aws import Clients
from ..store import Deployments
from ..store import hooks as hook_store
from ..switch.endings import EndingDeps
from .rollback import RollbackDeps


@dataclass(frozen=True)
class AlarmRollbackSettings:
    """Environment of the alarm rollback function (see template.yaml)."""

    DEPLOYMENTS_TABLE: str
    EVENT_BUS_NAME: str = "default"
    EVENT_SOURCE: str = "bluegreen"


def rollback_deps(clients: Clients | None = None) -> RollbackDeps:
    config = settings.load(AlarmRollbackSettings)
    clients = clients or Clients()
    return RollbackDeps(
        endings=EndingDeps(
            store=Deployments(clients.dynamodb, config.DEPLOYMENTS_TABLE),
            clients=clients,
            announcer=lambda: announce.Announcer(
                clients.events, config.EVENT_SOURCE, config.EVENT_BUS_NAME
            ),
            verdicts=lambda reference: hook_store.verdicts(
                clients.dynamodb, config.DEPLOYMENTS_TABLE, reference
            ),
        )
    )
