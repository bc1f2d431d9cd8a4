"""The checks: every resource, data source, provider block and local module call against its schema."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

from tfschema.hcl import Block, parse_module
from tfschema.manifest import Schema, Struct
from tfschema.references import undeclared
from tfschema.versions import satisfies

TOP_LEVEL = frozenset(
    {"terraform", "provider", "variable", "locals", "output", "module", "resource", "data", "moved", "import"}
    | {"removed", "check"}
)
_CONDITION = Struct({"condition": True, "error_message": True}, {})
_RESOURCE_LIFECYCLE = Struct(
    {"create_before_destroy": False, "prevent_destroy": False, "ignore_changes": False, "replace_triggered_by": False},
    {},
)
_META_ARGUMENTS = {
    "resource": {"count", "for_each", "depends_on", "provider"},
    "data": {"count", "for_each", "depends_on", "provider"},
}
# Blocks Terraform itself owns inside a resource (provisioner and connection bodies belong to provisioners).
_META_BLOCKS = {"resource": {"lifecycle", "provisioner", "connection"}, "data": {"lifecycle"}}
_MODULE_META = {"source", "version", "count", "for_each", "depends_on", "providers"}
_DYNAMIC = {"for_each", "iterator", "labels"}


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    address: str
    message: str

    def render(self, root: Path) -> str:
        try:
            where = self.path.relative_to(root)
        except ValueError:
            where = self.path
        return f"{where}:{self.line}: {self.address}: {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # provider source -> blocks not checked


def check_modules(directories: Iterable[Path], schema_for: Callable[[str], Schema | None]) -> Report:
    """Check each directory as one Terraform module; schema_for maps a provider source to its schema."""
    report = Report()
    for directory in directories:
        _check_module(directory, parse_module(directory), schema_for, report)
    return report


def _check_module(
    directory: Path, blocks: list[Block], schema_for: Callable[[str], Schema | None], report: Report
) -> None:
    sources = _provider_sources(blocks)
    _check_provider_versions(blocks, sources, schema_for, report)
    _check_references(blocks, sources, schema_for, report)
    declared = {f"{b.labels[0]}.{b.labels[1]}" for b in blocks if b.type == "resource" and len(b.labels) == 2}
    for block in blocks:
        address = address_of(block)
        if block.type not in TOP_LEVEL:
            report.problems.append(Problem(block.path, block.line, address, f"unknown top-level block {block.type!r}"))
        elif block.type in ("resource", "data") and len(block.labels) == 2:
            _check_resource(block, sources, schema_for, report)
        elif block.type == "provider" and len(block.labels) == 1:
            source = sources.get(block.labels[0], f"hashicorp/{block.labels[0]}")
            schema = schema_for(source)
            if schema is None:
                report.skipped[source] += 1
                continue
            report.checked["provider"] += 1
            extra = {"alias", "version"}
            _check_body(block, schema.structs[schema.provider], schema, address, report, extra)
        elif block.type == "module" and len(block.labels) == 1:
            _check_module_call(directory, block, address, report)
        elif block.type == "moved":
            _check_moved(block, declared, report)


def _provider_sources(blocks: list[Block]) -> dict[str, str]:
    """Local provider name -> source address, from required_providers."""
    sources: dict[str, str] = {}
    for terraform in (b for b in blocks if b.type == "terraform"):
        for required in terraform.children("required_providers"):
            for name, argument in required.arguments.items():
                if isinstance(argument.value, dict) and isinstance(argument.value.get("source"), str):
                    sources[name] = argument.value["source"]
    return sources


def address_of(block: Block) -> str:
    """How Terraform names a top-level block: google_x.name, data.google_x.name, output.name, locals."""
    if block.type == "resource":
        return ".".join(block.labels)
    return ".".join((block.type, *block.labels))


def _check_provider_versions(
    blocks: list[Block], sources: Mapping[str, str], schema_for: Callable[[str], Schema | None], report: Report
) -> None:
    """The schema checked against must be one the module's version constraint admits."""
    for terraform in (b for b in blocks if b.type == "terraform"):
        for required in terraform.children("required_providers"):
            for name, argument in required.arguments.items():
                constraint = argument.value.get("version") if isinstance(argument.value, dict) else None
                schema = schema_for(sources[name]) if name in sources else None
                if not isinstance(constraint, str) or schema is None:
                    continue
                if satisfies(schema.provider_version, constraint) is False:
                    message = (
                        f"requires {sources[name]} {constraint!r}, but the schema checked against is "
                        f"{schema.describe()}: pin a matching package in tfschema/packages.py"
                    )
                    report.problems.append(Problem(terraform.path, argument.line, "terraform", message))


def _check_references(
    blocks: list[Block], sources: Mapping[str, str], schema_for: Callable[[str], Schema | None], report: Report
) -> None:
    known: set[str] = set()
    for source in {*sources.values(), "hashicorp/google"}:
        schema = schema_for(source)
        if schema is not None:
            known |= {*schema.resources, *schema.data_sources}
    for block, line, reference in undeclared(blocks, known):
        message = f"{reference} is not declared in this module"
        report.problems.append(Problem(block.path, line, address_of(block), message))


def _check_resource(
    block: Block, sources: Mapping[str, str], schema_for: Callable[[str], Schema | None], report: Report
) -> None:
    type_, _name = block.labels
    address = address_of(block)
    provider = block.expression("provider")
    local_name = provider.split(".")[0] if provider else type_.split("_")[0]
    source = sources.get(local_name, f"hashicorp/{local_name}")
    schema = schema_for(source)
    if schema is None:
        report.skipped[source] += 1
        return
    kind = "resource" if block.type == "resource" else "data source"
    known = schema.resources if block.type == "resource" else schema.data_sources
    struct = known.get(type_)
    if struct is None:
        hint = _did_you_mean(type_, known)
        report.problems.append(
            Problem(block.path, block.line, address, f"unknown {kind} type {type_!r} in {schema.describe()}{hint}")
        )
        return
    report.checked[block.type] += 1
    _check_body(block, schema.structs[struct], schema, address, report, _META_ARGUMENTS[block.type])
    for lifecycle in block.children("lifecycle"):
        allowed = _RESOURCE_LIFECYCLE if block.type == "resource" else Struct({}, {})
        _check_lifecycle(lifecycle, allowed, f"{address}: lifecycle", report)


def _check_lifecycle(block: Block, allowed: Struct, where: str, report: Report) -> None:
    for name, argument in block.arguments.items():
        if name not in allowed.arguments:
            report.problems.append(Problem(block.path, argument.line, where, f"unknown lifecycle argument {name!r}"))
    for child in block.blocks:
        if child.type in ("precondition", "postcondition"):
            _check_struct(child, _CONDITION, None, f"{where}.{child.type}", report)
        else:
            report.problems.append(Problem(child.path, child.line, where, f"unknown lifecycle block {child.type!r}"))


def _check_body(
    block: Block, struct: Struct, schema: Schema, address: str, report: Report, extra_arguments: AbstractSet[str]
) -> None:
    _check_struct(block, struct, schema, address, report, extra_arguments, _META_BLOCKS.get(block.type, set()))


def _check_struct(
    block: Block,
    struct: Struct,
    schema: Schema | None,
    where: str,
    report: Report,
    extra_arguments: AbstractSet[str] = frozenset(),
    meta_blocks: AbstractSet[str] = frozenset(),
) -> None:
    """One block's arguments and nested blocks against its struct, recursively; `where` names it in messages."""
    for name, argument in block.arguments.items():
        if name in struct.arguments or name in extra_arguments:
            continue
        if name in struct.blocks:
            # The manifest does not tell blocks from the plugin framework's nested attributes; the google
            # providers are built on SDKv2 blocks almost throughout, where `name = {...}` is an error.
            message = f"{name!r} is a block, not an argument: write {name} {{ ... }}"
            report.problems.append(Problem(block.path, argument.line, where, message))
            continue
        hint = _did_you_mean(name, [*struct.arguments, *extra_arguments])
        report.problems.append(Problem(block.path, argument.line, where, f"unknown argument {name!r}{hint}"))
    present: Counter[str] = Counter()
    for child in block.blocks:
        if child.type in meta_blocks:
            continue
        name, body = child.type, child
        if child.type == "dynamic":
            content = _dynamic_content(child, where, report)
            if content is None:
                continue
            name, body = content
        present[name] += 1
        nested = struct.blocks.get(name)
        if nested is None or schema is None:
            if name in struct.arguments:
                message = f"{name!r} is an argument, not a block: write {name} = ..."
            else:
                message = f"unknown block {name!r}{_did_you_mean(name, struct.blocks)}"
            report.problems.append(Problem(child.path, child.line, where, message))
            continue
        if nested.single and present[name] == 2:
            report.problems.append(Problem(child.path, child.line, where, f"at most one {name!r} block is allowed"))
        _check_struct(body, schema.structs[nested.struct], schema, f"{where}: {name}", report)
    for name, required in struct.arguments.items():
        if required and name not in block.arguments:
            report.problems.append(Problem(block.path, block.line, where, f"missing required argument {name!r}"))
    for name, nested in struct.blocks.items():
        if nested.required and not present[name] and name not in block.arguments:
            report.problems.append(Problem(block.path, block.line, where, f"missing required block {name!r}"))


def _dynamic_content(block: Block, where: str, report: Report) -> tuple[str, Block] | None:
    """A `dynamic "name"` block as the block it generates: its content, checked like a literal `name` block."""
    if len(block.labels) != 1:
        report.problems.append(Problem(block.path, block.line, where, "a dynamic block takes exactly one label"))
        return None
    label = f"{where}: dynamic {block.labels[0]!r}"
    for name, argument in block.arguments.items():
        if name not in _DYNAMIC:
            report.problems.append(Problem(block.path, argument.line, label, f"unknown argument {name!r}"))
    if "for_each" not in block.arguments:
        report.problems.append(Problem(block.path, block.line, label, "missing required argument 'for_each'"))
    contents = block.children("content")
    if len(contents) != 1 or len(block.blocks) != 1:
        report.problems.append(Problem(block.path, block.line, label, "needs exactly one content block"))
        return None
    return block.labels[0], contents[0]


def _check_module_call(directory: Path, block: Block, address: str, report: Report) -> None:
    """Inputs of a call to a local module (source ./ or ../) against that module's variables."""
    source = block.expression("source") or ""
    if not source.startswith(("./", "../")):
        return
    target = (directory / source).resolve()
    variables = {b.labels[0]: b for b in parse_module(target) if b.type == "variable" and len(b.labels) == 1}
    report.checked["module"] += 1
    for name, argument in block.arguments.items():
        if name not in variables and name not in _MODULE_META:
            hint = _did_you_mean(name, variables)
            report.problems.append(
                Problem(block.path, argument.line, address, f"{source} has no variable {name!r}{hint}")
            )
    for name, variable in variables.items():
        if "default" not in variable.arguments and name not in block.arguments:
            report.problems.append(Problem(block.path, block.line, address, f"missing required input {name!r}"))


def _check_moved(block: Block, declared: set[str], report: Report) -> None:
    """`to` must be declared here and `from` no longer (Terraform refuses a move from an existing object)."""
    ends = {name: _base_address(block.expression(name)) for name in ("from", "to")}
    for name, argument in block.arguments.items():
        if name not in ends:
            report.problems.append(Problem(block.path, argument.line, "moved", f"unknown argument {name!r}"))
    if ends["from"] is None or ends["to"] is None:
        report.problems.append(Problem(block.path, block.line, "moved", "needs both from and to"))
        return
    where = f"moved {ends['from']} -> {ends['to']}"
    if ends["to"] not in declared and not ends["to"].startswith("module."):
        report.problems.append(Problem(block.path, block.line, where, f"{ends['to']} is not declared in this module"))
    if ends["from"] != ends["to"] and ends["from"] in declared:
        report.problems.append(Problem(block.path, block.line, where, f"{ends['from']} is still declared"))


def _base_address(expression: str | None) -> str | None:
    """google_x.name from google_x.name["key"] or google_x.name[0]."""
    if expression is None:
        return None
    return expression.split("[")[0]


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def iter_sorted(problems: Iterable[Problem]) -> Iterator[Problem]:
    yield from sorted(problems, key=lambda p: (str(p.path), p.line, p.message))
