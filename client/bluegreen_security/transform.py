"""Transform the SAM template into plain CloudFormation, offline, with aws-sam-translator.

    .venv-sam/bin/python client/bluegreen_security/transform.py template.yaml out.json \
        [template2.yaml out2.json ...]

Runs in the SAM CLI's virtualenv (where aws-sam-translator lives: its pydantic pin
conflicts with the project's). Local paths (CodeUri, ContentUri, DefinitionUri) are
replaced by placeholder S3 locations, as `sam package` would, and each function's
original CodeUri is kept in its `Metadata` (`bluegreen:CodeUri`) so the policy tests can
find its code. Managed policies named by short name cannot be resolved offline: the
loader refuses them, so the template must use ARNs (it does).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

PLACEHOLDER_BUCKET = "bluegreen-offline-transform"
_URI_KEYS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
}


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns short-form intrinsics (`!Ref X`) into their long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return loaded


def with_placeholder_uris(template: dict[str, Any]) -> dict[str, Any]:
    """Local paths become S3 placeholders; a function's CodeUri is kept in its Metadata."""
    for logical_id, resource in template.get("Resources", {}).items():
        key = _URI_KEYS.get(resource.get("Type", ""))
        properties = resource.get("Properties", {})
        if key is None or not isinstance(properties.get(key), str):
            continue
        local = properties[key]
        properties[key] = f"s3://{PLACEHOLDER_BUCKET}/{logical_id}/{Path(local).name}"
        if resource["Type"] == "AWS::Serverless::Function":
            resource.setdefault("Metadata", {})["bluegreen:CodeUri"] = local
    return template


class _OfflinePolicies:
    """The managed policy loader: nothing can be looked up without AWS."""

    def load(self) -> dict[str, str]:
        return {}


def transform(template_path: Path) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform as sam_transform

    template = with_placeholder_uris(load_template(template_path))
    transformed: dict[str, Any] = sam_transform(
        template,
        {},
        _OfflinePolicies(),  # type: ignore[arg-type]
        passthrough_metadata=True,
    )
    return transformed


def main(argv: list[str]) -> int:
    """Transform each (template, output) pair; one process for many (the emulator's
    tests transform dozens of template variants, the translator takes ~1 s to import)."""
    pairs = argv[1:]
    if not pairs or len(pairs) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    from samtranslator.model.exceptions import InvalidDocumentException

    failed = 0
    for source, target in zip(pairs[::2], pairs[1::2], strict=True):
        try:
            transformed = transform(Path(source))
        except InvalidDocumentException as invalid:
            for cause in invalid.causes:
                print(f"{source}: {cause.message}", file=sys.stderr)
            failed = 1
            continue
        out = Path(target)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(transformed, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv))
