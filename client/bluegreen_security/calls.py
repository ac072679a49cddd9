"""Which AWS calls can a function's code make? A static answer, from the source alone.

Starting at the handler (`functions/<x>/app.py`, attribute `plan`), walk every function it
can reach in its own code folder and in the layer (`bluegreen.*`), and collect each call
shaped like `<client>.<operation>(...)` where `<client>` is named like one of the clients
`bluegreen.aws.Clients` creates (`elbv2`, `self.dynamodb`, `ctx.clients.cloudwatch`...)
and `<operation>` is an operation of that service in botocore's model. Paginators count
as their operation (`cloudwatch.get_paginator("describe_alarms")`).

Reachability is by reference, not only by call: a function named anywhere in a reachable
body (a callback, a dict of checks, a dataclass default) is reachable. Methods are found
by name: `self.x()` in the enclosing class; `deps.records.get()` in the class whose name
matches the receiver (`Records`), else in every class defining it, unless the name is a
method of a builtin type (`.get`, `.items`), which would match any dict. The answer
over-approximates a little (a branch never taken still counts), which is the safe side
for "every call the code makes is granted"; the policy tests name what they could not
justify either way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "core"
LAYER_PACKAGE = "bluegreen"
# botocore service -> IAM action prefix, where they differ from the endpoint prefix
IAM_PREFIX = {"cloudwatch": "cloudwatch", "elbv2": "elasticloadbalancing", "lambda": "lambda"}
# Operations with no IAM action of their own: the call needs one of these per item
ANY_OF = {
    "dynamodb:TransactWriteItems": frozenset(
        {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
         "dynamodb:ConditionCheckItem"}
    ),
    "dynamodb:TransactGetItems": frozenset({"dynamodb:GetItem"}),
    "lambda:Invoke": frozenset({"lambda:InvokeFunction"}),
}  # fmt: skip
# Calls that make AWS check a second action on the caller (documented in each service's
# authorization reference): a role may grant these alongside the call, and only then.
IMPLIED = {
    "codedeploy:CreateDeployment": frozenset(
        {"codedeploy:GetDeploymentConfig", "codedeploy:GetApplicationRevision",
         "codedeploy:RegisterApplicationRevision"}
    ),
    # task and execution roles; tags on the new revision (ECS authorizes TagResource too)
    "ecs:RegisterTaskDefinition": frozenset({"iam:PassRole", "ecs:TagResource"}),
    "ecs:CreateService": frozenset({"iam:PassRole"}),
    "ecs:UpdateService": frozenset({"iam:PassRole"}),  # lifecycle hooks' roleArn
}  # fmt: skip
# Libraries that call AWS with the client they are given: what they call, read from their
# source (aws_lambda_powertools/utilities/idempotency/persistence/dynamodb.py)
LIBRARY_CALLS = {
    "aws_lambda_powertools.utilities.idempotency:DynamoDBPersistenceLayer": (
        ("dynamodb", "GetItem"), ("dynamodb", "PutItem"), ("dynamodb", "UpdateItem"),
        ("dynamodb", "DeleteItem"),
    ),
}  # fmt: skip
_BUILTIN_METHODS = frozenset(
    name for kind in (dict, list, str, set, tuple, bytes, int, float) for name in dir(kind)
)
_PAGINATORS = {"get_paginator", "get_waiter"}


@dataclass(frozen=True)
class AwsCall:
    service: str  # botocore name: elbv2
    operation: str  # API name: DescribeListeners
    where: str  # module.function:line, for messages

    @property
    def action(self) -> str:
        return f"{iam_prefix(self.service)}:{self.operation}"

    @property
    def actions(self) -> frozenset[str]:
        """The IAM actions of which the call needs at least one (usually exactly one)."""
        return ANY_OF.get(self.action, frozenset({self.action}))

    @property
    def implied(self) -> frozenset[str]:
        """Further actions AWS checks for this call (a role may grant them too)."""
        return IMPLIED.get(self.action, frozenset())


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@cache
def operations(service: str) -> dict[str, str]:
    """snake_case method name -> API operation name, from botocore's model (offline)."""
    from botocore import xform_name

    return {xform_name(op): op for op in _service_model(service).operation_names}


def iam_prefix(service: str) -> str:
    if service in IAM_PREFIX:
        return IAM_PREFIX[service]
    metadata = _service_model(service).metadata
    return str(metadata.get("signingName") or metadata["endpointPrefix"])


@cache
def client_names() -> dict[str, str]:
    """Attribute name -> botocore service, from `bluegreen.aws.Clients` (`self._client("x")`)."""
    tree = ast.parse((LAYER / LAYER_PACKAGE / "aws.py").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "_client"
                    and call.args
                    and isinstance(call.args[0], ast.Constant)
                ):
                    names[node.name] = str(call.args[0].value)
    return names


# -- the module graph ----------------------------------------------------------------------
@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)  # alias -> module or module:symbol
    symbols: dict[str, ast.AST] = field(default_factory=dict)  # qualname -> def/class/value


_TREES: dict[tuple[str, int, int], ast.Module] = {}


def _parsed(path: Path) -> ast.Module:
    """A source file's syntax tree, parsed once per file version (the walk only reads
    it; 22 functions share one layer)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _TREES:
        _TREES[key] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return _TREES[key]


class Program:
    """The modules reachable from a handler module, parsed, with their symbols."""

    def __init__(self, code_dir: Path) -> None:
        self.code_dir = code_dir
        self.modules: dict[str, Module] = {}

    def module(self, name: str) -> Module | None:
        if name in self.modules:
            return self.modules[name]
        path = self._path_of(name)
        if path is None:
            return None
        module = Module(name, path, _parsed(path))
        self.modules[name] = module
        self._index(module)
        for target in list(module.imports.values()):  # the import closure, as at run time
            self.module(target.partition(":")[0])
        return module

    def _path_of(self, name: str) -> Path | None:
        parts = name.split(".")
        roots = [LAYER] if parts[0] == LAYER_PACKAGE else [self.code_dir]
        for root in roots:
            base = root.joinpath(*parts)
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None

    def _package_of(self, module: Module) -> str:
        is_package = module.path.name == "__init__.py"
        return module.name if is_package else module.name.rpartition(".")[0]

    def _index(self, module: Module) -> None:
        self._index_imports(module)
        for node in module.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                module.symbols[node.name] = node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        module.symbols[f"{node.name}.{item.name}"] = item
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        module.symbols[target.id] = node.value

    def _index_imports(self, module: Module) -> None:
        for node in ast.walk(module.tree):  # imports inside functions count too
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    module.imports[alias.asname or top] = alias.name if alias.asname else top
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(module, node)
                for alias in node.names:
                    as_module = f"{base}.{alias.name}" if base else alias.name
                    module.imports[alias.asname or alias.name] = (
                        as_module if self._path_of(as_module) else f"{base}:{alias.name}"
                    )

    def _absolute(self, module: Module, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = self._package_of(module).split(".")
        base = package[: len(package) - (node.level - 1)]
        return ".".join([*base, node.module] if node.module else base)


# -- reachability ------------------------------------------------------------------------
class _Walker:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.seen: set[tuple[str, str]] = set()
        self.calls: set[AwsCall] = set()
        self.queue: list[tuple[str, str]] = []

    def run(self, module_name: str, symbol: str) -> set[AwsCall]:
        self._reach(module_name, symbol)
        while self.queue:
            module_name, qualname = self.queue.pop()
            module = self.program.modules[module_name]
            self._scan(module, qualname, module.symbols[qualname])
        return self.calls

    def _reach(self, module_name: str, qualname: str) -> None:
        module = self.program.module(module_name)
        if module is None or qualname not in module.symbols:
            return
        if (module_name, qualname) not in self.seen:
            self.seen.add((module_name, qualname))
            self.queue.append((module_name, qualname))
        node = module.symbols[qualname]
        if isinstance(node, ast.ClassDef):  # constructing a class runs these
            for special in ("__init__", "__post_init__", "__call__"):
                self._reach(module_name, f"{qualname}.{special}")

    def _scan(self, module: Module, qualname: str, node: ast.AST) -> None:
        enclosing = qualname.split(".", maxsplit=1)[0] if "." in qualname else None
        body: Any = node
        if isinstance(node, ast.ClassDef):  # the class body, without its methods
            body = [n for n in node.body if not isinstance(n, ast.FunctionDef)]
            body += node.decorator_list + node.bases
        called = set()
        aliases = _client_aliases(body)
        for child in _walk(body):
            if isinstance(child, ast.Call):
                self._aws_call(module, qualname, child, aliases)
                called.add(id(child.func))
            if isinstance(child, ast.Name):
                self._resolve_name(module, child.id)
            elif isinstance(child, ast.Attribute):
                if id(child) not in called:  # `self.dynamodb.get_item` handed to a caller
                    self._aws_reference(module, qualname, child, aliases)
                self._resolve_attribute(module, child, enclosing, id(child) in called)

    def _aws_call(
        self, module: Module, qualname: str, call: ast.Call, aliases: dict[str, str]
    ) -> None:
        func = call.func
        if not isinstance(func, ast.Attribute):
            return
        name = _terminal_name(func.value) or ""
        service = client_names().get(name) or aliases.get(name)
        if service is None:
            return
        method = func.attr
        if method in _PAGINATORS and call.args and isinstance(call.args[0], ast.Constant):
            method = str(call.args[0].value)
        operation = operations(service).get(method)
        if operation is not None:
            where = f"{module.name}.{qualname}:{call.lineno}"
            self.calls.add(AwsCall(service, operation, where))

    def _aws_reference(
        self, module: Module, qualname: str, node: ast.Attribute, aliases: dict[str, str]
    ) -> None:
        """A client's bound method passed on to be called (`_call(self.dynamodb.get_item,
        ...)`) is a call of that operation, like writing it out."""
        name = _terminal_name(node.value) or ""
        service = client_names().get(name) or aliases.get(name)
        operation = operations(service).get(node.attr) if service else None
        if service is not None and operation is not None:
            where = f"{module.name}.{qualname}:{node.lineno}"
            self.calls.add(AwsCall(service, operation, where))

    def _resolve_name(self, module: Module, name: str) -> None:
        if name in module.symbols:
            self._reach(module.name, name)
            return
        target = module.imports.get(name)
        if target and ":" in target:
            target_module, _, symbol = target.partition(":")
            self._reach_exported(target_module, symbol)
            for service, operation in LIBRARY_CALLS.get(target, ()):
                self.calls.add(AwsCall(service, operation, f"{module.name} via {target}"))

    def _reach_exported(self, module_name: str, symbol: str) -> None:
        """`from pkg import name` where `name` may itself be imported into `pkg`."""
        module = self.program.module(module_name)
        if module is None:
            return
        if symbol in module.symbols:
            self._reach(module_name, symbol)
        else:
            self._resolve_name(module, symbol)

    def _resolve_attribute(
        self, module: Module, node: ast.Attribute, enclosing: str | None, called: bool
    ) -> None:
        receiver = node.value
        if isinstance(receiver, ast.Name):
            target = module.imports.get(receiver.id)
            if target and ":" not in target and self.program.module(target) is not None:
                self._reach_exported(target, node.attr)
                return
            own = f"{enclosing}.{node.attr}"
            if receiver.id == "self" and enclosing is not None and own in module.symbols:
                self._reach(module.name, own)
                return
        self._reach_method(node.attr, _terminal_name(receiver), called)

    def _reach_method(self, method: str, receiver: str | None, called: bool) -> None:
        candidates = [
            (module.name, qualname)
            for module in list(self.program.modules.values())
            for qualname in module.symbols
            if qualname.count(".") == 1 and qualname.endswith(f".{method}")
        ]
        if receiver:
            named = [c for c in candidates if _names_class(receiver, c[1].split(".")[0])]
            if named:
                candidates = named
            elif method in _BUILTIN_METHODS or not called:
                return
        elif method in _BUILTIN_METHODS or not called:
            return
        for module_name, qualname in candidates:
            self._reach(module_name, qualname)


def _names_class(receiver: str, class_name: str) -> bool:
    """`records` names `Records`, `store` names `IdempotencyStore`."""
    receiver, class_name = receiver.lower().strip("_"), class_name.lower()
    return len(receiver) >= 4 and class_name.endswith(receiver)


def _client_aliases(body: Any) -> dict[str, str]:
    """`sfn = deps.clients.stepfunctions` makes `sfn` a name of the Step Functions client."""
    aliases = {}
    for node in _walk(body):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            service = client_names().get(_terminal_name(value) or "")
            if isinstance(target, ast.Name) and service and isinstance(value, ast.Attribute):
                aliases[target.id] = service
    return aliases


def _terminal_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _walk(body: Any) -> Iterator[ast.AST]:
    nodes = body if isinstance(body, list) else [body]
    for node in nodes:
        yield from ast.walk(node)


def calls_of(code_dir: Path, handler: str) -> set[AwsCall]:
    """Every AWS call reachable from `handler` ("app.plan") in `code_dir`, layer included.

    Modules load lazily as references reach them, so an unrelated module of the layer
    adds nothing. The handler module's import-time code counts too (a cold start runs it).
    """
    module_name, _, attribute = handler.rpartition(".")
    program = Program(code_dir)
    module = program.module(module_name)
    if module is None:
        raise FileNotFoundError(f"handler module {module_name!r} not found in {code_dir}")
    if attribute not in module.symbols:
        raise LookupError(f"{handler}: no such function in {module.path}")
    walker = _Walker(program)
    top_level = [
        n
        for n in module.tree.body
        if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    module.symbols["<module>"] = ast.Module(body=top_level, type_ignores=[])
    walker._reach(module_name, "<module>")
    return walker.run(module_name, attribute)
