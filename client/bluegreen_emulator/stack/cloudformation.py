"""Stacks deployed next to the bundle (the example fleets) as CloudFormation stacks of the
emulated account.

`deploy_stack` deploys a template through the same deployer as the bundle
(stack/deploy.py) and registers the result in the account's CloudFormation, status
`CREATE_COMPLETE`, with the template, the parameters and the outputs the deployer
resolved: `aws cloudformation describe-stacks --stack-name shop-fleet` answers as it
would on AWS. The CloudFormation API itself (CreateStack, and the CREATE change set
`aws cloudformation deploy` executes) deploys through here while an emulator runs
(moto_patches/cloudformation.py), so a fixture, `make server` and a person typing the
examples' commands all deploy a fleet the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moto.cloudformation.exceptions import AlreadyExistsException
from moto.cloudformation.models import Stack, cloudformation_backends
from moto.cloudformation.parsing import Output
from moto.cloudformation.utils import generate_stack_id

from .deploy import DeployedStack, StackHost, deploy_template
from .template import parse_template


class _Outputs(dict[str, Output]):
    """What moto's Stack reads its outputs from (the deployer's, not moto's parser's)."""

    exports: list[Any] = []  # noqa: RUF012 - read only: the fleets export nothing


def deploy_stack(
    host: StackHost,
    name: str,
    template: Path | str,
    parameters: dict[str, str],
    tags: dict[str, str] | None = None,
    registered: Stack | None = None,
) -> DeployedStack:
    """Deploy `template` (a file, or a template's text) as stack `name`, and register it
    (in `registered`, the Stack a change set created, when there is one)."""
    if isinstance(template, Path):
        text, root, where = template.read_text(encoding="utf-8"), template.parent, str(template)
    else:
        text, root, where = template, Path.cwd(), f"stack {name}"
    backend = cloudformation_backends[host.account_id][host.region]
    if registered is None and any(s.name == name for s in backend.stacks.values()):
        raise AlreadyExistsException(f"Stack {name} already exists")
    parsed = parse_template(text, where)
    source = template if isinstance(template, Path) else None
    deployed = deploy_template(host, parsed, root, parameters, stack_name=name, source=source)
    _register(host, deployed, text, parameters, tags or {}, registered)
    return deployed


def _register(
    host: StackHost,
    deployed: DeployedStack,
    text: str,
    parameters: dict[str, str],
    tags: dict[str, str],
    stack: Stack | None,
) -> Stack:
    backend = cloudformation_backends[host.account_id][host.region]
    if stack is None:
        stack = Stack(  # type: ignore[abstract]  # moto instantiates it so too
            stack_id=generate_stack_id(deployed.name, host.region, host.account_id),
            name=deployed.name,
            template={},
            parameters=parameters,
            account_id=host.account_id,
            region_name=host.region,
            tags=tags,
        )
        backend.stacks[stack.stack_id] = stack
    stack.template = text
    stack.template_dict = json.loads(json.dumps(deployed.template, default=str))
    stack.description = deployed.template.get("Description")
    declared = deployed.template.get("Outputs", {})
    stack.output_map = _Outputs(  # type: ignore[assignment]  # what Stack.outputs reads
        {
            key: Output(key, value, str(declared.get(key, {}).get("Description", "")))
            for key, value in deployed.outputs.items()
        }
    )
    stack.resource_map.resolved_parameters = {
        key: parameters.get(key, str(spec.get("Default", "")))
        for key, spec in deployed.template.get("Parameters", {}).items()
    }
    stack.status = "CREATE_COMPLETE"
    stack._add_stack_event("CREATE_COMPLETE")
    return stack
