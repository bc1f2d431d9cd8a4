"""A provider's schema as the jsii manifest of its cdktf package describes it.

How the manifest encodes it: each resource, data source and the provider itself is a class whose base is
cdktf.TerraformResource / TerraformDataSource / TerraformProvider, whose docs summary links the Terraform name
("Represents a {@link <registry url> google_storage_bucket}"), and whose initializer takes a `config` struct
(a jsii datatype interface). A struct's properties are camelCased; each links its registry anchor, which is
the Terraform name ("{@link <url>#entry_point Cloudfunctions2Function#entry_point}"): that link is used rather
than re-snake-casing, which gets names such as detect_md5hash or build (buildAttribute) wrong. A property is
required unless `optional: true`. A property typed as another struct is a block with at most one instance
(max_items = 1); a property typed as IResolvable | array of a struct is a repeatable block. The meta-arguments
come from cdktf.TerraformMetaArguments, which the config structs extend and which is not part of the package.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tfschema.packages import FETCH_HINT, Package

_KINDS = {
    "cdktf.TerraformResource": "resource",
    "cdktf.TerraformDataSource": "data",
    "cdktf.TerraformProvider": "provider",
}
_TERRAFORM_NAME = re.compile(r"\{@link \S+ ([\w-]+)\}")
_ANCHOR = re.compile(r"#([\w-]+) [\w.]+#\1\}")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# Bump when the derived form changes: a cache written by an older checker is then rebuilt.
_DERIVED_FORMAT = 1


@dataclass(frozen=True)
class NestedBlock:
    struct: str
    required: bool
    single: bool  # at most one instance


@dataclass(frozen=True)
class Struct:
    """One block type: its arguments (name -> required) and its nested blocks."""

    arguments: Mapping[str, bool]
    blocks: Mapping[str, NestedBlock]


@dataclass(frozen=True)
class Schema:
    package: Package
    provider_name: str
    provider_version: str
    resources: Mapping[str, str]  # terraform type -> struct
    data_sources: Mapping[str, str]
    provider: str
    structs: Mapping[str, Struct]

    def describe(self) -> str:
        return f"{self.provider_name} {self.provider_version} ({self.package.npm} {self.package.version})"


class ManifestMissing(RuntimeError):
    def __init__(self, package: Package) -> None:
        super().__init__(
            f"the schema of {package.source} is not installed ({package.manifest} is missing): run {FETCH_HINT}"
        )


def load(package: Package) -> Schema:
    """The package's schema, from the derived cache beside the manifest when it is up to date."""
    manifest = package.manifest
    if not manifest.is_file():
        raise ManifestMissing(package)
    derived = manifest.with_name("schema.json")
    stamp = f"{_DERIVED_FORMAT}:{manifest.stat().st_size}:{manifest.stat().st_mtime_ns}"
    if derived.is_file():
        cached = json.loads(derived.read_text(encoding="utf-8"))
        if cached.get("stamp") == stamp:
            return _from_json(package, cached)
    data = _derive(json.loads(manifest.read_text(encoding="utf-8")), package)
    data["stamp"] = stamp
    # Written atomically: parallel test workers may derive at the same time.
    with tempfile.NamedTemporaryFile("w", dir=derived.parent, delete=False, encoding="utf-8") as out:
        json.dump(data, out)
    os.replace(out.name, derived)
    return _from_json(package, data)


def _derive(jsii: dict[str, Any], package: Package) -> dict[str, Any]:
    types: dict[str, Any] = jsii["types"]
    entries: dict[str, dict[str, str]] = {"resource": {}, "data": {}, "provider": {}}
    for fqn, type_ in types.items():
        kind = _KINDS.get(type_.get("base", ""))
        if kind is None:
            continue
        match = _TERRAFORM_NAME.search(type_.get("docs", {}).get("summary", ""))
        config = [p for p in type_.get("initializer", {}).get("parameters", []) if p["name"] == "config"]
        if match is None or len(config) != 1:
            raise ValueError(f"{package.npm}: cannot read the Terraform name or config struct of {fqn}")
        entries[kind][match.group(1)] = config[0]["type"]["fqn"]
    if len(entries["provider"]) != 1:
        raise ValueError(f"{package.npm}: expected one provider class, found {sorted(entries['provider'])}")
    structs: dict[str, Any] = {}
    pending = [*entries["resource"].values(), *entries["data"].values(), *entries["provider"].values()]
    while pending:
        fqn = pending.pop()
        if fqn in structs:
            continue
        arguments: dict[str, bool] = {}
        blocks: dict[str, list[Any]] = {}
        for prop in types[fqn].get("properties", []):
            name = _terraform_name(prop)
            required = not prop.get("optional", False)
            nested = _nested_struct(prop["type"], types)
            if nested is None:
                arguments[name] = required
            else:
                blocks[name] = [nested[0], required, nested[1]]
                pending.append(nested[0])
        structs[fqn] = {"arguments": arguments, "blocks": blocks}
    cdktf = json.loads(package.manifest.with_name("package.json").read_text(encoding="utf-8")).get("cdktf", {})
    provider = cdktf.get("provider", {})
    ((provider_name, provider_struct),) = entries["provider"].items()
    return {
        "format": _DERIVED_FORMAT,
        "provider_name": provider.get("name", provider_name).removeprefix("registry.terraform.io/"),
        "provider_version": provider.get("version", "unknown"),
        "resources": entries["resource"],
        "data_sources": entries["data"],
        "provider": provider_struct,
        "structs": structs,
    }


def _terraform_name(prop: dict[str, Any]) -> str:
    docs = prop.get("docs", {})
    match = _ANCHOR.search(f"{docs.get('summary', '')} {docs.get('remarks', '')}")
    if match:
        return match.group(1)
    # A dozen properties have their link cut off by a long description; their names are plain camelCase.
    return _CAMEL.sub("_", prop["name"]).lower()


def _nested_struct(type_: dict[str, Any], types: Mapping[str, Any]) -> tuple[str, bool] | None:
    """(struct, single) when the property is a block; None for an argument."""

    def struct(fqn: Any) -> str | None:
        return fqn if isinstance(fqn, str) and types.get(fqn, {}).get("datatype") else None

    single = struct(type_.get("fqn"))
    if single is not None:
        return single, True
    for member in _union(type_):
        element = member.get("collection", {})
        repeated = struct(element.get("elementtype", {}).get("fqn"))
        if element.get("kind") == "array" and repeated is not None:
            return repeated, False
    return None


def _union(type_: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "union" in type_:
        yield from type_["union"]["types"]
    else:
        yield type_


def _from_json(package: Package, data: dict[str, Any]) -> Schema:
    structs = {
        fqn: Struct(
            arguments=body["arguments"],
            blocks={name: NestedBlock(*value) for name, value in body["blocks"].items()},
        )
        for fqn, body in data["structs"].items()
    }
    return Schema(
        package=package,
        provider_name=data["provider_name"],
        provider_version=data["provider_version"],
        resources=data["resources"],
        data_sources=data["data_sources"],
        provider=data["provider"],
        structs=structs,
    )
