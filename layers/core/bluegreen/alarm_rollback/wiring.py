"""The alarm rollback function's configuration and dependencies (built once per cold start)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import announce, settings
from ..aws import Clients
from ..records import Records
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
        clients=clients,
        records=Records(clients.dynamodb, config.DEPLOYMENTS_TABLE),
        announcer=lambda: announce.Announcer(
            clients.events, config.EVENT_SOURCE, config.EVENT_BUS_NAME
        ),
    )
