"""Emulation of ECS-native blue/green service deployments (work in progress)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codedeploy import FlowDriver

if TYPE_CHECKING:
    from .emulator import Emulator


class EcsNativeEmulation(FlowDriver):
    def __init__(self, emulator: Emulator) -> None:
        super().__init__(emulator)
        self.revision_target_groups: dict[str, str] = {}

    def task_definition_in(self, target_group: str) -> str | None:
        return self.revision_target_groups.get(target_group)

    def adopt(self, cluster: str, service: str) -> None:
        return None
