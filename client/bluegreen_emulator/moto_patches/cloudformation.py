"""moto's CloudFormation: stacks deployed by the emulator's own deployer.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

from typing import Any

from botocore.exceptions import ClientError
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack

from ..stack.cloudformation import deploy_stack
from ..stack.template import TemplateError
from . import registry


# 33. moto's CloudFormation creates a stack's resources with its own template parser,
#     which knows a part of the resource types and properties (no CodeDeploy deployment
#     groups, no ECS-native deployment configuration, no listener rules' weights) and
#     skips what it does not know. With an emulator running, CreateStack and the CREATE
#     change set that `aws cloudformation deploy` executes (ChangeSet.apply) deploy
#     through the emulator's deployer (stack/cloudformation.py), the one the bundle and
#     the fleet fixtures use: a template it cannot deploy is refused, naming what, and
#     nothing is created. A stack is deployed once: an UPDATE change set is refused.
def _patch_stacks_deploy_through_the_emulator() -> None:
    create = registry.ORIGINALS["CloudFormationBackend.create_stack"]
    apply = registry.ORIGINALS["ChangeSet.apply"]

    def create_stack(
        self: CloudFormationBackend,
        name: str,
        template: str,
        parameters: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> Stack:
        if registry.ACTIVE is None:
            return create(self, name, template, parameters, *args, **kwargs)
        _deploy(name, template, parameters, kwargs.get("tags"), None)
        return next(s for s in self.stacks.values() if s.name == name)

    def apply_change_set(self: ChangeSet) -> None:
        if registry.ACTIVE is None:
            return apply(self)
        if self.change_set_type != "CREATE":
            raise ValidationError(
                self.stack_name,
                message=f"Stack {self.stack_name}: the emulator deploys a stack once and does "
                "not update it; delete the stack and deploy it again",
            )
        _deploy(self.stack_name, self.template, self.parameters, self.tags, self.stack)
        return None

    CloudFormationBackend.create_stack = create_stack  # type: ignore[method-assign]
    ChangeSet.apply = apply_change_set  # type: ignore[method-assign]


def _deploy(
    name: str, template: str, parameters: dict[str, Any], tags: Any, stack: Stack | None
) -> None:
    values = {key: str(value) for key, value in (parameters or {}).items()}
    try:
        deploy_stack(registry.ACTIVE, name, template, values, tags or {}, registered=stack)
    except (TemplateError, ClientError) as exc:
        raise ValidationError(name, message=f"Stack {name}: {exc}") from None


def apply() -> None:
    _patch_stacks_deploy_through_the_emulator()
