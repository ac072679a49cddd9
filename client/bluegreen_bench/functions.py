"""The template's functions as the benchmarks need them (read from template.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bluegreen_emulator.stack.template import load_template, merge_globals

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
LAYER = ROOT / "layers" / "core"


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str  # module.attribute
    memory_mb: int

    @property
    def module_path(self) -> Path:
        module = self.handler.rpartition(".")[0]
        return self.code_dir / (module.replace(".", "/") + ".py")


def template_functions(template: Path = TEMPLATE) -> list[Function]:
    resources = merge_globals(load_template(template))
    found = []
    for logical_id, resource in sorted(resources.items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        found.append(
            Function(
                logical_id=logical_id,
                code_dir=ROOT / str(properties["CodeUri"]),
                handler=str(properties["Handler"]),
                memory_mb=int(properties.get("MemorySize", 128)),
            )
        )
    return found
