"""The Terraform module in infra/, its packaging step and its checkov policies.

No Terraform provider can be downloaded here, so `terraform validate` cannot run. Instead:

- structural tests read the module with python-hcl2 and check what DESIGN section 9 requires of it;
- tests/infra/test_provider_schema.py checks every block against the google providers' own schema (tfschema);
- checkov (scripts/checkov.sh, in its own venv because its bc-python-hcl2 shadows python-hcl2) scans the
  module with the project's custom policies and must report no failure;
- each custom policy (infra/policies, CKV_WCB_n) is run against fixtures that must fail it and fixtures that
  must pass it, and its rule is also exercised directly (infra/policies/wcb_rules.py has no checkov import).

The checkov tests build .checkov-venv on first use (pip from PyPI, about a minute); when that fails they fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
EXAMPLE = INFRA / "examples" / "basic"
POLICIES = INFRA / "policies"
FIXTURES = POLICIES / "tests"
CHECKOV_SH = ROOT / "scripts" / "checkov.sh"
CUSTOM_CHECKS = [f"CKV_WCB_{n}" for n in range(1, 6)]
FUNCTIONS = ("booking", "sharing", "sync")

HCL = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)

BASH = shutil.which("bash") or "/bin/bash"
# First run builds the checkov venv with pip; later runs take ~5 s.
CHECKOV_TIMEOUT = 900


# --- Reading the module ---------------------------------------------------------------------------------------


@dataclass
class Module:
    """The top-level blocks of every .tf file in one directory, merged as Terraform merges them."""

    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {name: body for (t, name), body in self.resources.items() if t == type_}


def parse_hcl(path: Path) -> dict[str, Any]:
    return hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=HCL)


def load_module(directory: Path) -> Module:
    module = Module()
    for path in sorted(directory.glob("*.tf")):
        parsed = parse_hcl(path)
        module.text += path.read_text(encoding="utf-8")
        for kind, target in (("resource", module.resources), ("data", module.data)):
            for entry in parsed.get(kind, []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        assert (type_, name) not in target, f"{type_}.{name} declared twice"
                        target[(type_, name)] = body
        for kind, table in (("variable", module.variables), ("output", module.outputs), ("module", module.modules)):
            for entry in parsed.get(kind, []):
                table.update(entry)
        for entry in parsed.get("locals", []):
            module.locals.update(entry)
        module.terraform.extend(parsed.get("terraform", []))
    return module


@pytest.fixture(scope="module")
def infra() -> Module:
    return load_module(INFRA)


@pytest.fixture(scope="module")
def example() -> Module:
    return load_module(EXAMPLE)


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The one nested block ``name`` (python-hcl2 gives a list of blocks)."""
    blocks = body.get(name)
    assert isinstance(blocks, list), f"no {name} block"
    assert len(blocks) == 1, f"expected one {name} block, found {len(blocks)}"
    assert isinstance(blocks[0], dict)
    return blocks[0]


def expr(value: Any) -> str:
    """An attribute as expression text, without the ``${...}`` around a lone interpolation."""
    s = str(value)
    if s.startswith("${") and s.endswith("}") and s.count("${") == 1:
        return s[2:-1]
    return s


def resolve_number(value: Any, module: Module) -> float:
    """Evaluate the numeric forms this module uses: literals and ``var.x`` (its default), with a unit suffix."""
    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"\$\{var\.(\w+)\}(s?)", str(value))
    assert match, f"cannot evaluate {value!r}"
    default = module.variables[match.group(1)].get("default")
    assert isinstance(default, int | float), f"var.{match.group(1)} has no numeric default"
    return float(default)


def hcl_regexes(condition: str) -> list[re.Pattern[str]]:
    """The patterns inside ``regex("...", ...)`` calls of a validation condition, unescaped from HCL."""
    raw = re.findall(r'regex\(\\?"((?:[^"\\]|\\.)*?)\\?",', condition)
    return [re.compile(p.replace("\\\\", "\\").replace('\\"', '"')) for p in raw]


def load_source(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded  # dataclasses look their module up there
    spec.loader.exec_module(loaded)
    return loaded


# --- Layout, versions, variables, outputs -------------------------------------------------------------------


def test_layout_follows_terraform_google_modules() -> None:
    for name in (
        "versions.tf",
        "variables.tf",
        "outputs.tf",
        "README.md",
        "apis.tf",
        "service_accounts.tf",
        "secrets.tf",
        "storage.tf",
        "functions.tf",
        "iam.tf",
        "scheduler.tf",
        "config.tf",
    ):
        assert (INFRA / name).is_file(), f"infra/{name} missing"
    for name in ("main.tf", "variables.tf", "outputs.tf", "terraform.tfvars.example", "booking.toml.tftpl"):
        assert (EXAMPLE / name).is_file(), f"infra/examples/basic/{name} missing"


def test_versions(infra: Module) -> None:
    (terraform,) = infra.terraform
    assert terraform["required_version"] == ">= 1.5"
    (providers,) = terraform["required_providers"]
    for name in ("google", "google-beta"):
        assert providers[name]["source"] == f"hashicorp/{name}"
        assert re.fullmatch(r">= 5(\.\d+)*, < 7", providers[name]["version"]), providers[name]["version"]


@pytest.mark.parametrize("where", ["infra", "example"])
def test_every_variable_is_typed_and_described(where: str, infra: Module, example: Module) -> None:
    module = infra if where == "infra" else example
    assert module.variables
    for name, body in module.variables.items():
        assert body.get("type"), f"variable {name} has no type"
        assert len(str(body.get("description", ""))) >= 10, f"variable {name} has no real description"


@pytest.mark.parametrize("where", ["infra", "example"])
def test_every_output_is_described(where: str, infra: Module, example: Module) -> None:
    module = infra if where == "infra" else example
    assert module.outputs
    for name, body in module.outputs.items():
        assert len(str(body.get("description", ""))) >= 10, f"output {name} has no real description"


def test_inputs_are_validated_where_sensible(infra: Module) -> None:
    # Booleans and free-form paths/locations need no validation; every other input has one.
    exempt = {"enable_apis", "keyless_dwd", "sync_paused", "force_destroy_buckets", "bundle_dir", "bucket_location",
              "edge_enabled", "edge_sharing_iap"}
    assert exempt <= set(infra.variables)
    must_validate = set(infra.variables) - exempt
    assert len(must_validate) >= 25
    for name in sorted(must_validate):
        validations = infra.variables[name].get("validation")
        assert validations, f"variable {name} has no validation"
        for validation in validations:
            assert f"var.{name}" in validation["condition"], f"{name}: validation must test the variable"
            assert len(validation["error_message"]) > 20, f"{name}: say what is wrong and what to do"


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("project_id", ["demo-project", "my-booking-project"], ["Demo", "ab", "1project", "proj-"]),
        ("name_prefix", ["wcb", "ab", "team-a"], ["a", "-x", "x-", "Wcb", "a" * 21]),
        ("credentials_secret_version", ["1", "42", "latest"], ["0", "v1", "01", "", "1.0"]),
        ("region", ["europe-west1", "us-central1"], ["europe", "EU"]),
        ("sync_schedule", ["*/10 * * * *", "0 6 * * 1-5"], ["every 10 minutes", "* * *"]),
        ("function_memory", ["256Mi", "1Gi"], ["256", "256MB"]),
    ],
)
def test_validation_patterns_accept_and_refuse(name: str, good: list[str], bad: list[str], infra: Module) -> None:
    (validation,) = infra.variables[name]["validation"]
    patterns = hcl_regexes(validation["condition"])
    assert patterns, f"{name}: no regex in {validation['condition']}"
    default = infra.variables[name].get("default")
    for value in good + ([default] if isinstance(default, str) else []):
        assert any(p.search(value.strip()) for p in patterns), f"{name}: {value!r} should be accepted"
    for value in bad:
        assert not any(p.search(value.strip()) for p in patterns), f"{name}: {value!r} should be refused"


def test_latest_credentials_version_is_refused_in_production(infra: Module) -> None:
    variable = infra.variables["credentials_secret_version"]
    assert variable["default"] != "latest"
    assert infra.variables["environment"]["default"] == "production"
    secret = infra.resources[("google_secret_manager_secret", "credentials")]
    (precondition,) = block(secret, "lifecycle")["precondition"]
    condition = expr(precondition["condition"])
    assert condition == 'var.environment != "production" || var.credentials_secret_version != "latest"'


def test_outputs(infra: Module) -> None:
    for name in (
        "booking_url",
        "sharing_url",
        "sync_url",
        "dwd_client_id",
        "dwd_scopes",
        "credentials_secret",
        "snapshot_bucket",
        "source_bucket",
        "credentials_secret_version",
    ):
        assert name in infra.outputs, f"output {name} missing"
    assert expr(infra.outputs["dwd_client_id"]["value"]) == "google_service_account.dwd.unique_id"
    assert expr(infra.outputs["dwd_scopes"]["value"]) == 'join(",", local.dwd_scopes)'
    # Least privilege: two delegation clients, each with exactly its functions' scopes.
    assert ",".join(infra.locals["dwd_scopes"]) == (
        "https://www.googleapis.com/auth/calendar.events,https://www.googleapis.com/auth/calendar.freebusy"
    )
    assert ",".join(infra.locals["sharing_dwd_scopes"]) == (
        "https://www.googleapis.com/auth/calendar.acls,https://www.googleapis.com/auth/calendar.calendarlist.readonly"
    )
    assert expr(infra.outputs["sharing_dwd_client_id"]["value"]) == "google_service_account.dwd_sharing.unique_id"
    for fn in FUNCTIONS:
        url = f'google_cloudfunctions2_function.function["{fn}"].service_config[0].uri'
        assert expr(infra.outputs[f"{fn}_url"]["value"]) == url
    urls = expr(infra.outputs["function_urls"]["value"])
    assert urls == (
        "{for name, function in google_cloudfunctions2_function.function : name => function.service_config[0].uri}"
    )


def test_readme_tables_list_every_input_and_output(infra: Module) -> None:
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    inputs = readme.split("## Inputs", 1)[1].split("## Outputs", 1)[0]
    outputs = readme.split("## Outputs", 1)[1]
    for name in infra.variables:
        assert f"| `{name}` |" in inputs, f"README Inputs table lacks {name}"
    for name in infra.outputs:
        assert f"| `{name}` |" in outputs, f"README Outputs table lacks {name}"


# --- Resources ------------------------------------------------------------------------------------------------


def test_apis_enabled(infra: Module) -> None:
    expected = {
        "cloudfunctions",
        "run",
        "cloudbuild",
        "artifactregistry",
        "secretmanager",
        "cloudscheduler",
        "iamcredentials",
        "calendar-json",
        "storage",
        "admin",
        "iam",
    }
    apis = expr(infra.locals["apis"])
    enabled = set(re.findall(r'"([a-z0-9-]+)\.googleapis\.com"', apis))
    assert enabled == expected
    service = infra.resources[("google_project_service", "this")]
    assert service["disable_on_destroy"] is False


def test_service_accounts_and_no_keys(infra: Module, example: Module) -> None:
    runtime = infra.resources[("google_service_account", "runtime")]
    assert expr(runtime["for_each"]) == "local.function_names"
    assert expr(infra.locals["function_names"]) == "toset(keys(local.functions))"
    assert set(infra.locals["function_settings"]) == set(FUNCTIONS)
    assert ("google_service_account", "dwd") in infra.resources
    assert ("google_service_account", "scheduler") in infra.resources
    # No key is ever created by Terraform: it would live in the state.
    assert not infra.of_type("google_service_account_key")
    assert not example.of_type("google_service_account_key")


def test_credentials_never_enter_the_state(infra: Module) -> None:
    # The credentials secrets are containers, except with keyless_dwd, where Terraform writes their descriptor
    # (an account's email and unique id, nothing secret). The other version Terraform writes is the rendered
    # booking config (not a secret; see config.tf). A precondition refuses key material in both.
    for name in ("credentials", "sharing_credentials", "token_key"):
        assert ("google_secret_manager_secret", name) in infra.resources
    versions = infra.of_type("google_secret_manager_secret_version")
    assert set(versions) == {"config", "keyless"}
    assert expr(versions["config"]["secret"]) == "google_secret_manager_secret.config.id"
    assert "google_secret_manager_secret.token_key" not in json.dumps(versions)
    assert expr(versions["keyless"]["for_each"]) == "local.keyless_descriptors"
    descriptors = json.dumps(infra.locals["keyless_descriptors"])
    assert "var.keyless_dwd" in descriptors and "keyless_dwd" in descriptors
    assert "private_key" not in descriptors and "unique_id" in descriptors
    for name in ("config", "keyless"):
        precondition = block(versions[name], "lifecycle")["precondition"][0]  # config's second: the proxy hops
        assert "PRIVATE KEY" in precondition["condition"]
        assert "refresh_token" in precondition["condition"]


def test_secret_access_is_granted_per_secret(infra: Module) -> None:
    for type_ in ("google_project_iam_member", "google_project_iam_binding", "google_project_iam_policy"):
        for name, body in infra.of_type(type_).items():
            assert "secretmanager" not in json.dumps(body), f"{type_}.{name}: grant Secret Manager roles per secret"
    grants = infra.of_type("google_secret_manager_secret_iam_member")
    readers = {
        "credentials": "local.secret_readers.credentials",
        "sharing_credentials": "local.secret_readers.sharing_credentials",
        "token_key": "local.secret_readers.token_key",
        "config": "local.function_names",
    }
    assert {expr(g["secret_id"]) for g in grants.values()} == {
        f"google_secret_manager_secret.{name}.secret_id" for name in readers
    }
    for grant in grants.values():
        assert grant["role"] == "roles/secretmanager.secretAccessor"
        secret = expr(grant["secret_id"]).split(".")[1]
        assert expr(grant["for_each"]) == readers[secret]
        assert grant["member"] == "serviceAccount:${google_service_account.runtime[each.key].email}"
    # Least privilege: each function reads only its own secrets.
    who = {name: set(re.findall(r'"(\w+)"', value)) for name, value in infra.locals["secret_readers"].items()}
    assert who == {"credentials": {"booking", "sync"}, "sharing_credentials": {"sharing"}, "token_key": {"booking"}}


def test_keyless_grants_token_creator_on_the_dwd_account_only(infra: Module) -> None:
    grant = infra.resources[("google_service_account_iam_member", "keyless_token_creator")]
    assert expr(grant["service_account_id"]) == "google_service_account.dwd.name"
    assert grant["role"] == "roles/iam.serviceAccountTokenCreator"
    assert "var.keyless_dwd" in grant["for_each"] and "local.secret_readers.credentials" in grant["for_each"]
    sharing = infra.resources[("google_service_account_iam_member", "keyless_sharing_token_creator")]
    assert expr(sharing["service_account_id"]) == "google_service_account.dwd_sharing.name"
    assert "local.secret_readers.sharing_credentials" in sharing["for_each"]
    # The functions read the descriptor Terraform wrote, not a version someone has to upload.
    assert 'google_secret_manager_secret_version.keyless["credentials"].name' in infra.locals[
        "credentials_secret_version_name"
    ]


@pytest.mark.parametrize("bucket", ["sources", "snapshots"])
def test_buckets_are_private_and_versioned(bucket: str, infra: Module) -> None:
    body = infra.resources[("google_storage_bucket", bucket)]
    assert body["uniform_bucket_level_access"] is True
    assert body["public_access_prevention"] == "enforced"
    assert block(body, "versioning")["enabled"] is True
    assert expr(body["force_destroy"]) == "var.force_destroy_buckets"
    assert infra.variables["force_destroy_buckets"]["default"] is False
    (encryption,) = body["dynamic"]
    assert "var.storage_kms_key_name" in encryption["encryption"]["for_each"]
    assert body["lifecycle_rule"], "old versions must expire"
    assert "#checkov:skip=CKV_GCP_62:" in infra.text


def test_snapshot_bucket_access(infra: Module) -> None:
    grants = {
        (expr(g["member"]), g["role"])
        for g in infra.of_type("google_storage_bucket_iam_member").values()
        if expr(g["bucket"]) == "google_storage_bucket.snapshots.name"
    }
    assert grants == {
        ('serviceAccount:${google_service_account.runtime["sync"].email}', "roles/storage.objectUser"),
        ('serviceAccount:${google_service_account.runtime["booking"].email}', "roles/storage.objectViewer"),
    }


def test_bundles_are_named_by_content_hash(infra: Module) -> None:
    bundle = infra.resources[("google_storage_bucket_object", "bundle")]
    assert expr(bundle["for_each"]) == "local.function_names"
    assert "filesha256(" in bundle["name"]
    assert "var.bundle_sha256" in bundle["name"]
    assert bundle["name"].startswith("${each.key}/")
    assert bundle["name"].endswith(".zip")
    assert bundle["source"] == "${local.bundle_dir}/${each.key}.zip"


def the_function(infra: Module) -> dict[str, Any]:
    return infra.resources[("google_cloudfunctions2_function", "function")]


def test_one_function_resource_for_each_function(infra: Module) -> None:
    assert set(infra.of_type("google_cloudfunctions2_function")) == {"function"}
    body = the_function(infra)
    assert expr(body["for_each"]) == "local.functions"
    assert expr(infra.locals["functions"]) == "tomap(local.function_settings)"
    # One object type: every entry has the same settings (tomap() would refuse the plan otherwise).
    settings = infra.locals["function_settings"]
    assert set(settings) == set(FUNCTIONS)
    assert len({frozenset(entry) for entry in settings.values()}) == 1
    assert body["name"] == "${var.name_prefix}-${each.key}"  # the names the three resources had
    assert expr(body["description"]) == "each.value.description"
    build = block(body, "build_config")
    assert build["runtime"] == "python312"
    assert expr(build["entry_point"]) == "each.key"
    storage = block(block(build, "source"), "storage_source")
    assert expr(storage["object"]) == "google_storage_bucket_object.bundle[each.key].name"
    service = block(body, "service_config")
    assert expr(service["service_account_email"]) == "google_service_account.runtime[each.key].email"
    assert expr(service["max_instance_count"]) == "each.value.max_instances"
    assert expr(service["min_instance_count"]) == "each.value.min_instances"
    assert expr(service["timeout_seconds"]) == "each.value.timeout_seconds"
    assert expr(service["ingress_settings"]) == "each.value.ingress"
    assert expr(service["environment_variables"]) == "local.function_env[each.key]"
    volume = block(service, "secret_volumes")
    assert expr(volume["secret"]) == "google_secret_manager_secret.config.secret_id"
    assert expr(block(volume, "versions")["version"]) == "google_secret_manager_secret_version.config.version"
    # Each function's grants exist before any function starts.
    needed = {
        "google_secret_manager_secret_iam_member.credentials_accessor",
        "google_secret_manager_secret_iam_member.sharing_credentials_accessor",
        "google_secret_manager_secret_iam_member.token_key_accessor",
        "google_secret_manager_secret_iam_member.config_accessor",
        "google_service_account_iam_member.keyless_token_creator",
        "google_service_account_iam_member.keyless_sharing_token_creator",
        "google_storage_bucket_iam_member.snapshot_reader",
        "google_storage_bucket_iam_member.snapshot_writer",
    }
    assert needed <= {expr(d) for d in body["depends_on"]}


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_function(fn: str, infra: Module) -> None:
    settings = infra.locals["function_settings"][fn]
    assert settings["max_instances"] not in (None, 0), f"{fn}: max_instance_count must be set"
    assert resolve_number(settings["timeout_seconds"], infra) > 0
    assert len(settings["description"]) > 20


def test_function_settings(infra: Module) -> None:
    settings = infra.locals["function_settings"]
    # Public, unless the edge (edge.tf) is in front: then only through the load balancer and its Cloud Armor policy.
    assert expr(settings["booking"]["ingress"]) == "local.booking_ingress"
    ingress = expr(infra.locals["booking_ingress"])
    assert ingress == 'var.edge_enabled ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"', ingress
    assert expr(settings["booking"]["max_instances"]) == "var.booking_max_instances"
    assert expr(settings["booking"]["min_instances"]) == "var.booking_min_instances"
    assert expr(settings["sharing"]["ingress"]) == "var.sharing_ingress"
    assert settings["sync"]["max_instances"] == 1
    assert expr(settings["sync"]["ingress"]) == "var.sync_ingress"
    assert infra.variables["sync_ingress"]["default"] == "ALLOW_INTERNAL_ONLY"
    for fn in FUNCTIONS:
        assert expr(settings[fn]["timeout_seconds"]) == f"var.{fn}_timeout_seconds"


def test_concurrency_cpu_and_threads(infra: Module) -> None:
    """Each instance takes as many requests at once as functions-framework's gunicorn has threads, on 1 CPU."""
    settings = infra.locals["function_settings"]
    service = block(the_function(infra), "service_config")
    assert expr(service["max_instance_request_concurrency"]) == "each.value.concurrency"
    assert expr(service["available_cpu"]) == "each.value.cpu"
    assert settings["booking"]["concurrency"] >= 50  # a burst is served by warm instances, not one cold start each
    assert settings["sync"]["concurrency"] == 1  # overlapping syncs would only race to write one snapshot
    env = infra.locals["function_env"]
    for fn in FUNCTIONS:
        assert float(settings[fn]["cpu"]) >= 1  # Cloud Run refuses concurrency > 1 below one CPU
        assert f"THREADS = tostring(local.function_settings.{fn}.concurrency)" in json.dumps(env[fn]).replace("\"", "")
    assert "Concurrency and CPU" in (INFRA / "README.md").read_text()


def moves() -> dict[str, str]:
    parsed = [parse_hcl(path) for path in sorted(INFRA.glob("*.tf"))]
    return {expr(m["from"]): expr(m["to"]) for p in parsed for m in p.get("moved", [])}


def test_moved_blocks_keep_the_resources_of_earlier_deployments(infra: Module) -> None:
    # The addresses the functions and invokers had before the for_each: each is moved, none replaced.
    assert moves() == {
        "google_cloudfunctions2_function.booking": 'google_cloudfunctions2_function.function["booking"]',
        "google_cloudfunctions2_function.sharing": 'google_cloudfunctions2_function.function["sharing"]',
        "google_cloudfunctions2_function.sync": 'google_cloudfunctions2_function.function["sync"]',
        "google_cloud_run_v2_service_iam_member.booking_public": (
            'google_cloud_run_v2_service_iam_member.invoker["booking"]'
        ),
        "google_cloud_run_v2_service_iam_member.sync_scheduler": (
            'google_cloud_run_v2_service_iam_member.invoker["sync"]'
        ),
        # for_each over the same keys (the admins' emails): the whole resource moves, instance by instance.
        "google_cloud_run_v2_service_iam_member.sharing_admins": "google_cloud_run_v2_service_iam_member.invoker",
    }
    assert set(infra.locals["service_invokers"]) == {"booking", "sync"}
    assert "for admin in toset(var.sharing_admins) : admin =>" in infra.locals["admin_invokers"]


def test_the_edge_is_off_by_default_and_reaches_the_functions_through_one_local(infra: Module) -> None:
    for name in ("edge_enabled", "edge_sharing_iap"):
        assert infra.variables[name]["default"] is False, name
    assert infra.variables["edge_domains"]["default"] == []
    assert expr(infra.locals["edge_functions"]) == "google_cloudfunctions2_function.function"
    lines = (INFRA / "edge.tf").read_text(encoding="utf-8").splitlines()
    referring = [line for line in lines if "google_cloudfunctions2_function." in line and "#" not in line[:4]]
    assert len(referring) == 1 and referring[0].strip().startswith("edge_functions ="), referring
    # Every resource of edge.tf exists only when its switch is on: count or for_each over an edge local/variable.
    for entry in parse_hcl(INFRA / "edge.tf")["resource"] + parse_hcl(INFRA / "edge.tf").get("data", []):
        for type_, named in entry.items():
            for name, body in named.items():
                switch = expr(body.get("count", body.get("for_each", "")))
                assert "edge" in switch, f"{type_}.{name} is not behind an edge switch: {switch!r}"


def test_the_edge_serves_booking_through_a_serverless_neg_behind_cloud_armor(infra: Module) -> None:
    neg = infra.resources[("google_compute_region_network_endpoint_group", "edge")]
    assert neg["network_endpoint_type"] == "SERVERLESS"
    assert expr(block(neg, "cloud_run")["service"]) == "local.edge_functions[each.key].service_config[0].service"
    backend = infra.resources[("google_compute_backend_service", "edge")]
    assert backend["load_balancing_scheme"] == "EXTERNAL_MANAGED"
    assert expr(backend["security_policy"]) == "google_compute_security_policy.edge[0].id"
    assert expr(block(backend, "backend")["group"]) == "google_compute_region_network_endpoint_group.edge[each.key].id"
    rule = infra.resources[("google_compute_global_forwarding_rule", "edge")]
    assert rule["port_range"] == "443" and rule["load_balancing_scheme"] == "EXTERNAL_MANAGED"
    assert infra.resources[("google_compute_ssl_policy", "edge")]["min_tls_version"] == "TLS_1_2"

    policy = infra.resources[("google_compute_security_policy", "edge")]
    rules = policy["rule"]
    throttles = {}
    for rule in rules:
        if rule["action"] != "throttle":
            continue
        options = block(rule, "rate_limit_options")
        assert options["exceed_action"] == "deny(429)" and options["enforce_on_key"] == "IP"
        threshold = block(options, "rate_limit_threshold")
        assert threshold["interval_sec"] == 60
        match = block(rule, "match")
        key = expr(block(match, "expr")["expression"]) if "expr" in match else "everything"
        throttles[key] = expr(threshold["count"])
    live = "request.path.startsWith('/slots') && request.query.contains('live=true')"
    assert throttles == {
        "request.path.startsWith('/bookings') && request.method != 'GET'": "var.edge_bookings_per_ip_per_minute",
        live: "var.edge_live_slots_per_ip_per_minute",
        "everything": "var.edge_requests_per_ip_per_minute",
    }
    assert max(rule["priority"] for rule in rules) == 2147483647  # the default rule
    assert any("cve-canary" in str(rule) for rule in rules)


def test_iap_in_front_of_sharing_admits_the_sharing_admins_only(infra: Module) -> None:
    backend = infra.resources[("google_compute_backend_service", "edge")]
    (iap,) = backend["dynamic"]
    assert expr(iap["iap"]["for_each"]) == 'each.key == "sharing" ? [true] : []'
    assert iap["iap"]["content"][0]["enabled"] is True
    assert "oauth2_client_secret" not in str(backend)  # the Google-managed OAuth client: no secret in the state
    member = infra.resources[("google_iap_web_backend_service_iam_member", "sharing_admins")]
    assert member["role"] == "roles/iap.httpsResourceAccessor"
    assert "var.sharing_admins" in expr(member["for_each"])
    edge_invokers = str(infra.locals["edge_invokers"])  # granted by the one invoker resource (iam.tf)
    assert "{var.edge_enabled && var.edge_sharing_iap ?" in edge_invokers, edge_invokers
    assert 'function = "sharing"' in edge_invokers and "@gcp-sa-iap.iam.gserviceaccount.com" in edge_invokers


def test_function_env_holds_names_not_secrets(infra: Module) -> None:
    env = infra.locals["function_env"]
    assert set(env) == set(FUNCTIONS)
    text = {fn: json.dumps(value) for fn, value in env.items()}
    assert "CREDENTIALS_SECRET" in text["booking"] and "TOKEN_KEY_SECRET" in text["booking"]
    assert "CREDENTIALS_SECRET" in text["sync"] and "TOKEN_KEY_SECRET" not in text["sync"]
    assert "SHARING_CREDENTIALS_SECRET" in text["sharing"] and '"CREDENTIALS_SECRET"' not in text["sharing"]
    assert "${var.credentials_secret_version}" in infra.locals["credentials_secret_version_name"]
    assert infra.locals["config_env"]["BOOKING_CONFIG"] == "${local.config_mount_path}/${local.config_file_name}"
    rendered = json.dumps(env) + json.dumps(infra.locals["credentials_secret_version_name"])
    for marker in ("PRIVATE KEY", "private_key", "refresh_token", "client_secret", "BEGIN ", "password"):
        assert marker not in rendered
    # No function takes a secret value through its environment either.
    assert "secret_environment_variables" not in block(the_function(infra), "service_config")


def test_booking_is_the_only_public_invoker(infra: Module, example: Module) -> None:
    public = []
    for module in (infra, example):
        for (type_, name), body in module.resources.items():
            if re.search(r"_iam_(member|binding|policy)$", type_):
                text = json.dumps(body)
                if "allUsers" in text or "allAuthenticatedUsers" in text:
                    public.append((type_, name))
    # The one public grant is booking's entry in local.invokers; the invoker resource itself refuses the plan of
    # any other (checkov sees that resource once, with each.value unresolved).
    assert public == [("google_cloud_run_v2_service_iam_member", "invoker")]
    invoker = infra.resources[public[0]]
    (precondition,) = block(invoker, "lifecycle")["precondition"]
    assert expr(precondition["condition"]) == (
        'each.value.function == "booking" || !contains(["allUsers", "allAuthenticatedUsers"], each.value.member)'
    )
    services = infra.locals["service_invokers"]
    assert services["booking"] == {"function": "booking", "member": "allUsers"}
    assert "allUsers" not in json.dumps(services["sync"]) and "allUsers" not in infra.locals["admin_invokers"]
    assert "allAuthenticatedUsers" not in json.dumps(infra.locals)


def test_sharing_and_sync_invokers(infra: Module) -> None:
    invokers = infra.of_type("google_cloud_run_v2_service_iam_member")
    assert set(invokers) == {"invoker"}
    invoker = invokers["invoker"]
    assert expr(invoker["for_each"]) == "local.invokers"
    assert expr(infra.locals["invokers"]) == "merge(local.service_invokers, local.admin_invokers, local.edge_invokers)"
    service = "google_cloudfunctions2_function.function[each.value.function].service_config[0].service"
    assert expr(invoker["name"]) == service
    assert expr(invoker["member"]) == "each.value.member"
    assert invoker["role"] == "roles/run.invoker"
    admins = infra.locals["admin_invokers"]
    assert 'admin => {function = "sharing", member = endswith(admin, ".gserviceaccount.com")' in admins
    assert "user:${admin}" in admins and "serviceAccount:${admin}" in admins
    sync = infra.locals["service_invokers"]["sync"]
    assert sync == {"function": "sync", "member": "serviceAccount:${google_service_account.scheduler.email}"}


def test_scheduler_calls_sync_with_oidc_within_its_timeout(infra: Module) -> None:
    job = infra.resources[("google_cloud_scheduler_job", "sync")]
    target = block(job, "http_target")
    sync_url = 'google_cloudfunctions2_function.function["sync"].service_config[0].uri'
    assert expr(target["uri"]) == sync_url
    assert target["http_method"] == "POST"
    oidc = block(target, "oidc_token")
    # The audience the sync function's config accepts (sync.audiences), rendered from the same local.
    assert expr(oidc["audience"]) == "local.sync_audience"
    assert infra.locals["sync_audience"] == "${local.function_url_base}/${var.name_prefix}-sync"
    assert expr(oidc["service_account_email"]) == "google_service_account.scheduler.email"
    assert "oauth_token" not in target
    retry = block(job, "retry_config")
    assert expr(retry["retry_count"]) == "var.scheduler_retry_count"
    assert expr(job["schedule"]) == "var.sync_schedule"
    assert expr(job["time_zone"]) == "var.sync_time_zone"
    # attempt_deadline within the sync function's timeout, with the defaults ...
    sync = infra.locals["function_settings"]["sync"]
    assert job["attempt_deadline"].endswith("s")
    assert resolve_number(job["attempt_deadline"], infra) <= resolve_number(sync["timeout_seconds"], infra)
    # ... and for any values: the plan fails otherwise.
    (precondition,) = block(job, "lifecycle")["precondition"]
    assert expr(precondition["condition"]) == "var.scheduler_attempt_deadline_seconds <= var.sync_timeout_seconds"


def test_example_calls_the_module(infra: Module, example: Module) -> None:
    call = example.modules["calendar_booking"]
    assert call["source"] == "../.."
    for name, body in infra.variables.items():
        if "default" not in body:
            assert name in call, f"example does not pass required variable {name}"
    for name in call:
        if name != "source":
            assert name in infra.variables, f"example passes unknown variable {name}"
    tfvars = parse_hcl(EXAMPLE / "terraform.tfvars.example")
    assert set(tfvars) <= set(example.variables)
    assert tfvars["credentials_secret_version"] != "latest"


def render_template(template: str, values: dict[str, Any]) -> str:
    """The subset of Terraform's templatefile() the config template uses: ${name}, ${jsonencode(name)}, $${."""

    def substitute(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        call = re.fullmatch(r"jsonencode\((\w+)\)", inner)
        if call:
            return json.dumps(values[call.group(1)])
        assert re.fullmatch(r"\w+", inner), f"template expression not understood: {inner}"
        return str(values[inner])

    assert "%{" not in template, "template directives are not used"
    rendered = re.sub(r"(?<!\$)\$\{([^}]*)\}", substitute, template)
    return rendered.replace("$${", "${")


def test_example_config_template_renders_to_valid_toml(infra: Module) -> None:
    names = set(re.findall(r"(\w+)\s*=", infra.locals["booking_config"].split("{", 1)[1]))
    values: dict[str, Any] = {
        "project_id": "demo-project",
        "region": "europe-west1",
        "environment": "production",
        "allowed_origins": ["https://www.example.com"],
        "sharing_admins": ["admin@example.com"],
        "scheduler_identity": "wcb-scheduler@demo-project.iam.gserviceaccount.com",
        "snapshot_bucket": "demo-project-wcb-snapshots",
        "snapshot_uri": "gs://demo-project-wcb-snapshots/availability/snapshot.json",
        "dwd_service_account": "wcb-dwd@demo-project.iam.gserviceaccount.com",
        "keyless_dwd": False,
        "sharing_audience": "https://europe-west1-demo-project.cloudfunctions.net/wcb-sharing",
        "sync_audience": "https://europe-west1-demo-project.cloudfunctions.net/wcb-sync",
        "trusted_proxy_hops": 1,
    }
    assert names == set(values), "the test's template values must match what config.tf passes"
    rendered = render_template((EXAMPLE / "booking.toml.tftpl").read_text(encoding="utf-8"), values)
    config = tomllib.loads(rendered)
    assert config["sharing"]["admins"] == ["admin@example.com"]
    assert config["booking"]["cors_origins"] == ["https://www.example.com"]
    assert config["sync"]["scheduler_identity"] == values["scheduler_identity"]
    assert config["snapshot"]["location"] == values["snapshot_uri"]
    # IAM-only functions accept Cloud Run's signature-stripped tokens only when the config says so (DESIGN 4).
    assert config["sharing"]["iam_protected"] is True
    assert config["sync"]["iam_protected"] is True
    assert "credentials" not in config, "CREDENTIALS_SECRET (the env) names the credentials in production"
    assert "google" not in config, "no emulator in production"


def test_example_config_is_accepted_by_the_functions_config_loader() -> None:
    from shared.config import parse_config

    values = {
        "allowed_origins": ["https://www.example.com"],
        "sharing_admins": ["admin@example.com", "ops-bot@demo-project.iam.gserviceaccount.com"],
        "scheduler_identity": "wcb-scheduler@demo-project.iam.gserviceaccount.com",
        "snapshot_uri": "gs://demo-project-wcb-snapshots/availability/snapshot.json",
        "sharing_audience": "https://europe-west1-demo-project.cloudfunctions.net/wcb-sharing",
        "sync_audience": "https://europe-west1-demo-project.cloudfunctions.net/wcb-sync",
        "trusted_proxy_hops": 2,
    }
    rendered = render_template((EXAMPLE / "booking.toml.tftpl").read_text(encoding="utf-8"), values)
    config = parse_config(rendered, "examples/basic/booking.toml.tftpl (rendered)")
    assert config.snapshot is not None
    assert config.snapshot.scheme == "gs"
    assert config.sync.scheduler_identity == values["scheduler_identity"]
    assert config.booking.trusted_proxy_hops == 2  # what the module renders with the edge on


def _proxy_hops_pattern(infra: Module) -> re.Pattern[str]:
    found = re.search(r'regexall\("((?:[^"\\]|\\.)*)"', infra.locals["config_proxy_hops"])
    assert found, "config_proxy_hops reads the rendered config with regexall"
    return re.compile(found.group(1).replace("\\\\", "\\"))


@pytest.mark.parametrize(
    ("config_lines", "found"),
    [
        ("trusted_proxy_hops = 1\n", [1]),
        ("  trusted_proxy_hops=2  # the edge\n", [2]),
        ("company_visitors = \"refuse\"\n", []),
        ("trusted_proxy_hops = 1\ntrusted_proxy_hops = 3\n", [1, 3]),
        ("# trusted_proxy_hops = 2\n", []),
    ],
)
def test_the_rendered_configs_proxy_hops_must_be_the_modules(config_lines: str, found: list[int],
                                                              infra: Module) -> None:
    """A config with trusted_proxy_hops = 2 and no load balancer in front would let a caller choose its address
    (the entry its rate limits count); the module decides the value from var.edge_enabled and refuses a rendered
    config that disagrees or leaves it out."""
    assert expr(infra.locals["trusted_proxy_hops"]) == "var.edge_enabled ? 2 : 1"
    template_vars = re.search(r"templatefile\(var\.booking_config_template, \{(.*)\}\)", infra.locals["booking_config"],
                              re.S)
    assert template_vars and "trusted_proxy_hops = local.trusted_proxy_hops" in template_vars.group(1)
    pattern = _proxy_hops_pattern(infra)
    assert [int(hops) for hops in pattern.findall(f"[booking]\n{config_lines}max_per_day = 8\n")] == found
    preconditions = block(infra.resources[("google_secret_manager_secret_version", "config")], "lifecycle")
    conditions = [expr(p["condition"]) for p in preconditions["precondition"]]
    assert ("length(local.config_proxy_hops) == 1 && alltrue([for hops in local.config_proxy_hops : "
            "hops == local.trusted_proxy_hops])") in conditions
    assert "${trusted_proxy_hops}" in (EXAMPLE / "booking.toml.tftpl").read_text(encoding="utf-8")


# --- Packaging ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def packager() -> ModuleType:
    return load_source(INFRA / "package.py", "wcb_package")


def _fake_repo(root: Path) -> None:
    for fn in FUNCTIONS:
        (root / "functions" / fn).mkdir(parents=True)
        (root / "functions" / fn / "main.py").write_text(f"def {fn}(request):\n    return 'ok'\n")
    (root / "functions" / "sync" / "requirements.txt").write_text("functions-framework==3.10.2\n")
    (root / "shared" / "__pycache__").mkdir(parents=True)
    (root / "shared" / "__init__.py").write_text("")
    (root / "shared" / "slots.py").write_text("X = 1\n")
    (root / "shared" / "__pycache__" / "slots.cpython-311.pyc").write_bytes(b"\0")
    (root / "shared" / ".env").write_text("SECRET=1\n")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["google-auth>=2", "tzdata"]\n')


def test_package_builds_reproducible_bundles(tmp_path: Path, packager: ModuleType) -> None:
    repo = tmp_path / "repo"
    _fake_repo(repo)
    first = packager.package(repo, tmp_path / "a")
    os.utime(repo / "shared" / "slots.py", (1, 1))  # timestamps must not matter
    second = packager.package(repo, tmp_path / "b")
    assert first == second
    assert set(first) == set(FUNCTIONS)
    manifest = json.loads((tmp_path / "a" / "bundles.json").read_text())
    assert {name: entry["sha256"] for name, entry in manifest.items()} == first
    with zipfile.ZipFile(tmp_path / "a" / "booking.zip") as bundle:
        assert sorted(bundle.namelist()) == ["main.py", "requirements.txt", "shared/__init__.py", "shared/slots.py"]
        assert bundle.read("requirements.txt").decode().splitlines()[1:] == ["google-auth>=2", "tzdata"]
    with zipfile.ZipFile(tmp_path / "a" / "sync.zip") as bundle:
        assert bundle.read("requirements.txt") == b"functions-framework==3.10.2\n"
    (repo / "shared" / "slots.py").write_text("X = 2\n")
    assert packager.package(repo, tmp_path / "c")["booking"] != first["booking"]


def test_package_refuses_a_missing_function(tmp_path: Path, packager: ModuleType) -> None:
    repo = tmp_path / "repo"
    _fake_repo(repo)
    (repo / "functions" / "sharing" / "main.py").unlink()
    with pytest.raises(packager.PackageError, match=r"sharing"):
        packager.package(repo, tmp_path / "out")
    assert packager.main(["--root", str(repo), "--out", str(tmp_path / "out"), "booking"]) == 0
    assert (tmp_path / "out" / "booking.zip").is_file()


# --- Custom policy rules, directly --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rules() -> ModuleType:
    return load_source(POLICIES / "wcb_rules.py", "wcb_rules_under_test")


def _gen2(service_config: dict[str, Any] | None) -> dict[str, Any]:
    conf: dict[str, Any] = {"name": ["x"]}
    if service_config is not None:
        conf["service_config"] = [service_config]
    return conf


def test_rule_secret_access(rules: ModuleType) -> None:
    check = rules.secret_access_at_secret_level
    assert not check({"role": ["roles/secretmanager.secretAccessor"], "member": ["user:a@example.com"]}).passed
    assert not check({"role": ["roles/secretmanager.admin"], "members": [["group:x@example.com"]]}).passed
    assert not check({"policy_data": ['{"bindings":[{"role":"roles/secretmanager.secretAccessor"}]}']}).passed
    assert check({"role": ["roles/logging.logWriter"], "member": ["user:a@example.com"]}).passed


def test_rule_no_latest_version(rules: ModuleType) -> None:
    check = rules.no_latest_secret_version
    gen2 = "google_cloudfunctions2_function"
    latest = "projects/p/secrets/s/versions/latest"
    assert not check(_gen2({"environment_variables": [{"CREDENTIALS_SECRET": latest}]}), gen2).passed
    assert not check(_gen2({"environment_variables": [{"X": "${var.s}/versions/latest"}]}), gen2).passed
    assert not check(_gen2({"secret_environment_variables": [{"key": ["K"], "version": ["latest"]}]}), gen2).passed
    assert not check(_gen2({"secret_volumes": [{"mount_path": ["/etc/c"], "secret": ["c"]}]}), gen2).passed
    gen1 = {"environment_variables": [{"CREDENTIALS_SECRET": latest}]}
    assert not check(gen1, "google_cloudfunctions_function").passed
    pinned = {"CREDENTIALS_SECRET": "projects/p/secrets/s/versions/3", "NOTE": "latest"}
    assert check(_gen2({"environment_variables": [pinned]}), gen2).passed
    volume = {"mount_path": ["/etc/c"], "versions": [{"version": ["2"], "path": ["c.toml"]}]}
    assert check(_gen2({"secret_volumes": [volume]}), gen2).passed


def test_rule_scheduler(rules: ModuleType) -> None:
    check = rules.scheduler_oidc_and_deadline
    oidc = {"service_account_email": ["s@p.iam.gserviceaccount.com"], "audience": ["https://sync.run.app"]}
    good = {"attempt_deadline": ["240s"], "http_target": [{"uri": ["https://sync.run.app"], "oidc_token": [oidc]}]}
    assert check(good).passed
    assert check({"pubsub_target": [{"topic_name": ["t"]}]}).passed
    assert not check({**good, "attempt_deadline": [None]}).passed
    assert not check({k: v for k, v in good.items() if k != "attempt_deadline"}).passed
    assert check({**good, "attempt_deadline": ["${var.deadline}s"]}).passed  # an expression: set, not evaluated
    assert not check({**good, "attempt_deadline": ["5s"]}).passed
    assert not check({**good, "http_target": [{"uri": ["https://sync.run.app"]}]}).passed
    oauth = {"uri": ["u"], "oauth_token": [{"service_account_email": ["s@p"]}]}
    assert not check({**good, "http_target": [oauth]}).passed
    no_audience = {"uri": ["u"], "oidc_token": [{"service_account_email": ["s@p"]}]}
    assert "audience" in check({**good, "http_target": [no_audience]}).reason


@pytest.mark.parametrize(
    ("conf", "passed"),
    [
        (
            {
                "name": ["google_cloudfunctions2_function.booking.service_config[0].service"],
                "role": ["roles/run.invoker"],
                "member": ["allUsers"],
            },
            True,
        ),
        ({"name": ["wcb-booking"], "role": ["roles/run.invoker"], "member": ["allAuthenticatedUsers"]}, True),
        (
            {
                "name": ['google_cloudfunctions2_function.function["booking"].service_config[0].service'],
                "role": ["roles/run.invoker"],
                "member": ["allUsers"],
            },
            True,
        ),
        (
            {
                "name": ['google_cloudfunctions2_function.function["sharing"].service_config[0].service'],
                "role": ["roles/run.invoker"],
                "member": ["allUsers"],
            },
            False,
        ),
        (
            {
                "name": ['google_cloudfunctions2_function.booking_admin["x"].service_config[0].service'],
                "role": ["roles/run.invoker"],
                "member": ["allUsers"],
            },
            False,
        ),
        (
            {
                "service": ["projects/p/locations/r/services/booking"],
                "role": ["roles/run.invoker"],
                "members": [["allUsers"]],
            },
            True,
        ),
        ({"name": ["wcb-sharing"], "role": ["roles/run.invoker"], "member": ["user:a@example.com"]}, True),
        ({"name": ["wcb-sharing"], "role": ["roles/run.invoker"], "member": ["allUsers"]}, False),
        (
            {
                "name": ["wcb-sync"],
                "role": ["roles/run.invoker"],
                "members": [["user:a@x.com", "allAuthenticatedUsers"]],
            },
            False,
        ),
        ({"name": ["wcb-booking-admin"], "role": ["roles/run.invoker"], "member": ["allUsers"]}, False),
        ({"name": ["rebooking"], "role": ["roles/run.invoker"], "member": ["allUsers"]}, False),
        ({"name": ["wcb-booking"], "role": ["roles/run.developer"], "member": ["allUsers"]}, False),
        (
            {
                "cloud_function": ["google_cloudfunctions2_function.sharing.name"],
                "role": ["roles/cloudfunctions.invoker"],
                "member": ["allUsers"],
            },
            False,
        ),
    ],
)
def test_rule_public_invoker(conf: dict[str, Any], passed: bool, rules: ModuleType) -> None:
    assert rules.public_invoker_only_on_booking(conf).passed is passed


def test_rule_max_instances(rules: ModuleType) -> None:
    check = rules.max_instances_set
    gen2 = "google_cloudfunctions2_function"
    assert check(_gen2({"max_instance_count": [10]}), gen2).passed
    assert check(_gen2({"max_instance_count": ["var.booking_max_instances"]}), gen2).passed
    assert not check(_gen2({"available_memory": ["256Mi"]}), gen2).passed
    assert not check(_gen2(None), gen2).passed
    assert not check(_gen2({"max_instance_count": [0]}), gen2).passed
    assert check({"max_instances": [3]}, "google_cloudfunctions_function").passed
    assert not check({"name": ["x"]}, "google_cloudfunctions_function").passed


# --- checkov --------------------------------------------------------------------------------------------------


def run_checkov(*args: str, scan_dir: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("CHECKOV_DIR", None)
    if scan_dir is not None:
        env["CHECKOV_DIR"] = scan_dir
    return subprocess.run(
        [BASH, str(CHECKOV_SH), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHECKOV_TIMEOUT,
        check=False,
    )


def checkov_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode in (0, 1), (
        f"scripts/checkov.sh exited {result.returncode} (2 = its venv could not be built)\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"checkov printed no JSON report: {exc}\n{result.stdout[-3000:]}") from exc
    assert isinstance(report, dict), "expected one (terraform) report"
    assert report["check_type"] == "terraform"
    return report


@pytest.mark.network
@pytest.mark.timeout(CHECKOV_TIMEOUT)
def test_checkov_passes_on_the_module() -> None:
    result = run_checkov("-o", "json")
    report = checkov_json(result)
    failed = report["results"]["failed_checks"]
    assert result.returncode == 0, "checkov failed:\n" + "\n".join(
        f"{c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range']}" for c in failed
    )
    assert report["summary"]["failed"] == 0
    assert report["summary"]["parsing_errors"] == 0
    # The custom policies were loaded and applied to the module (CKV_WCB_1 has nothing to look at here: the
    # module grants no project-level roles).
    passed_ids = {c["check_id"] for c in report["results"]["passed_checks"]}
    assert {"CKV_WCB_2", "CKV_WCB_3", "CKV_WCB_4", "CKV_WCB_5"} <= passed_ids
    resources = {c["resource"] for c in report["results"]["passed_checks"]}
    # checkov sees each for_each resource once, not per function.
    assert any(r.endswith("google_cloudfunctions2_function.function") for r in resources)
    assert any(r.endswith("google_cloud_run_v2_service_iam_member.invoker") for r in resources)
    # The fixtures of the policies are not part of the module's scan.
    assert not any("policies/tests" in c["file_path"] for c in report["results"]["passed_checks"])
    # Every skip carries its reason.
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment") or ""
        assert len(reason) > 30, f"{skipped['check_id']} on {skipped['resource']} skipped without a reason"


def test_every_checkov_skip_states_a_reason() -> None:
    skips = []
    for path in INFRA.rglob("*.tf"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip" in line:
                match = re.search(r"#checkov:skip=(CKV2?_[A-Z0-9_]+):(.+)", line)
                assert match, f"{path}: malformed skip {line.strip()}"
                assert len(match.group(2).strip()) > 30, f"{path}: {match.group(1)} skipped without a real reason"
                skips.append(match.group(1))
    # One CKV_GCP_124 skip on the one function resource covers booking and sharing (sync is internal-only).
    assert sorted(skips) == ["CKV_GCP_124", "CKV_GCP_62", "CKV_GCP_62"]


@dataclass(frozen=True)
class Finding:
    check_id: str
    result: str
    resource: str  # type.name
    policy_dir: str  # ckv_wcb_<n>


def _findings(report: dict[str, Any]) -> Iterator[Finding]:
    for key, result in (("passed_checks", "PASSED"), ("failed_checks", "FAILED")):
        for check in report["results"][key]:
            policy_dir = Path(check["file_path"].lstrip("/")).parts[0]
            yield Finding(check["check_id"], result, check["resource"], policy_dir)


@pytest.fixture(scope="module")
def fixture_findings() -> list[Finding]:
    result = run_checkov("--check", ",".join(CUSTOM_CHECKS), "-o", "json", scan_dir="infra/policies/tests")
    report = checkov_json(result)
    assert report["summary"]["parsing_errors"] == 0
    assert result.returncode == 1, "the bad fixtures must make checkov fail"
    return list(_findings(report))


def _fixture_resources(policy_dir: str, prefix: str) -> set[str]:
    parsed = parse_hcl(FIXTURES / policy_dir / "main.tf")
    return {
        f"{type_}.{name}"
        for entry in parsed.get("resource", [])
        for type_, named in entry.items()
        for name in named
        if name.startswith(prefix)
    }


@pytest.mark.network
@pytest.mark.timeout(CHECKOV_TIMEOUT)
@pytest.mark.parametrize("check_id", CUSTOM_CHECKS)
def test_custom_policy_fails_bad_and_passes_good_fixtures(check_id: str, fixture_findings: list[Finding]) -> None:
    policy_dir = check_id.lower()
    bad = _fixture_resources(policy_dir, "bad_")
    good = _fixture_resources(policy_dir, "good_")
    assert bad, f"{policy_dir} has no bad_ fixture"
    assert good, f"{policy_dir} has no good_ fixture"
    mine = [f for f in fixture_findings if f.check_id == check_id and f.policy_dir == policy_dir]
    failed = {f.resource for f in mine if f.result == "FAILED"}
    passed = {f.resource for f in mine if f.result == "PASSED"}
    assert bad <= failed, f"{check_id} did not fail {sorted(bad - failed)}"
    assert not (good & failed), f"{check_id} failed good fixtures {sorted(good & failed)}"
    assert failed <= bad, f"{check_id} failed resources not meant to fail: {sorted(failed - bad)}"
    assert good & passed, f"{check_id} passed none of its good fixtures"
