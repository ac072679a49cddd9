"""moto's ELBv2: target health answered by the emulated instances.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

from typing import Any

from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

from . import registry


# 8. moto reports every registered, running instance as `healthy`
#    (FakeTargetGroup.health_for). Let the emulator answer for instances whose emulated
#    nginx fails its health check (Emulator.target_health).
def _patch_target_health() -> None:
    original = registry.ORIGINALS["FakeTargetGroup.health_for"]

    def health_for(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> Any:
        status = original(self, target, ec2_backend)
        override = (
            registry.ACTIVE.target_health.get((self.arn, target["Id"])) if registry.ACTIVE else None
        )
        if override is None or status.status != "healthy":
            return status
        state, reason = override
        return FakeHealthStatus(
            status.instance_id,
            status.port,
            status.health_check_port,
            state,
            reason,
            "emulated health check",
        )

    FakeTargetGroup.health_for = health_for  # type: ignore[method-assign]


def apply() -> None:
    _patch_target_health()
