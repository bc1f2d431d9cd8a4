"""infra/ and its examples against the google provider's own schema (tfschema, python -m tfschema).

The schema comes from the pinned @cdktf/provider-google(-beta) packages, fetched once into .cache/ by
`make provider-schema` (make test and .ci/run do it first). These tests never reach the network: when the
manifest is missing they fail and say how to fetch it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tfschema import manifest
from tfschema.check import Problem
from tfschema.packages import FETCH_HINT, PACKAGES, ROOT, Package
from tfschema.run import Schemas, check, default_directories, summary
from tfschema.versions import satisfies

INFRA = ROOT / "infra"


def load_all() -> tuple[Schemas, str | None]:
    loaded = Schemas()
    for package in PACKAGES:
        try:
            loaded(package.source)
        except manifest.ManifestMissing as exc:
            return loaded, str(exc)
    return loaded, None


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    loaded, missing = load_all()
    if missing:
        pytest.fail(missing, pytrace=False)
    return loaded


def test_the_pinned_schemas_are_installed() -> None:
    _, missing = load_all()
    if missing:
        pytest.fail(missing, pytrace=False)


def module_copy(tmp_path: Path) -> Path:
    """infra/ without its examples and policy fixtures (separate modules), to break on purpose."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns("examples", "policies", "*.py", "*.md"))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    """The 1-based line where `text` first appears in the file."""
    content = path.read_text(encoding="utf-8")
    assert text in content, f"{text!r} not in {path.name}"
    return content[: content.index(text)].count("\n") + 1


def rendered(problems: list[Problem], root: Path) -> set[str]:
    return {p.render(root) for p in problems}


def test_the_real_infra_and_examples_have_no_problems(schemas: Schemas) -> None:
    directories = default_directories()
    assert INFRA in directories and INFRA / "examples" / "basic" in directories
    report, _ = check(directories, schemas)
    assert [p.render(ROOT) for p in report.problems] == []
    assert report.checked["resource"] >= 25
    assert report.checked["data"] >= 1
    assert report.checked["provider"] == 2  # the example's google and google-beta blocks
    assert report.checked["module"] == 1
    assert not report.skipped


def test_a_misspelt_argument_an_unknown_block_a_missing_argument_and_type_are_caught(
    tmp_path: Path, schemas: Schemas
) -> None:
    infra = module_copy(tmp_path)
    functions, storage = infra / "functions.tf", infra / "storage.tf"
    edit(functions, "entry_point     = each.key", "entrypoint      = each.key")
    edit(functions, "  labels      = local.labels\n\n", "  labels      = local.labels\n\n  bogus {\n  }\n\n")
    edit(functions, "  location    = var.region\n", "")
    edit(storage, '"google_storage_bucket_iam_member" "snapshot_reader"', '"google_storage_bucket_iam_membr" "reader"')

    report, _ = check([infra], schemas)

    fn = "google_cloudfunctions2_function"
    function = line_of(functions, f'resource "{fn}" "function"')
    assert rendered(report.problems, tmp_path) == {
        f"infra/functions.tf:{line_of(functions, 'bogus {')}: {fn}.function: unknown block 'bogus'",
        f"infra/functions.tf:{line_of(functions, 'entrypoint ')}: {fn}.function: build_config: "
        "unknown argument 'entrypoint' (did you mean 'entry_point'?)",
        f"infra/functions.tf:{function}: {fn}.function: missing required argument 'location'",
        f"infra/storage.tf:{line_of(storage, 'iam_membr')}: google_storage_bucket_iam_membr.reader: unknown resource "
        "type 'google_storage_bucket_iam_membr' in hashicorp/google 6.50.0 (@cdktf/provider-google 16.12.1) "
        "(did you mean 'google_storage_bucket_iam_member'?)",
        # ... and the functions' depends_on still names it.
        f"infra/functions.tf:{line_of(functions, 'depends_on = [')}: {fn}.function: "
        "google_storage_bucket_iam_member.snapshot_reader is not declared in this module",
    }
    assert report.checked["resource"] >= 25  # the rest of the module was checked too


META = """
terraform {
  required_providers {
    google      = { source = "hashicorp/google" }
    google-beta = { source = "hashicorp/google-beta" }
    random      = { source = "hashicorp/random" }
  }
}

resource "google_storage_bucket" "b" {
  for_each   = toset(["a"])
  provider   = google-beta
  name       = each.key
  location   = "EU"
  depends_on = [random_id.r]

  dynamic "encryption" {
    for_each = var.key == null ? [] : [var.key]
    iterator = key
    content {
      default_kms_key_name = key.value
    }
  }

  dynamic "lifecycle_rule" {
    for_each = [1]
    content {
      condition {
        age = 1
      }
      action {
        type = "Delete"
      }
    }
  }

  lifecycle {
    create_before_destroy = true
    ignore_changes        = [labels]
    precondition {
      condition     = true
      error_message = "never"
    }
  }
}

data "google_project" "p" {
  count = 1
  lifecycle {
    postcondition {
      condition     = self.number != ""
      error_message = "no number"
    }
  }
}

resource "random_id" "r" {
  byte_length = 4
}

moved {
  from = google_storage_bucket.old
  to   = google_storage_bucket.b["a"]
}
"""


def write_module(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "m"
    directory.mkdir(exist_ok=True)
    (directory / "main.tf").write_text(text, encoding="utf-8")
    return directory


def test_meta_arguments_dynamic_blocks_and_lifecycle_are_understood(tmp_path: Path, schemas: Schemas) -> None:
    report, loaded = check([write_module(tmp_path, META)], schemas)
    assert [p.render(tmp_path) for p in report.problems] == []
    assert report.checked == {"resource": 1, "data": 1}
    # random has no pinned schema package: skipped, and the summary says so.
    assert report.skipped == {"hashicorp/random": 1}
    assert "skipped 1 block(s) of hashicorp/random: no schema package is pinned" in summary(report, loaded)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "default_kms_key_name = key.value",
            "default_kms_key_nam = key.value",
            [
                "google_storage_bucket.b: encryption: missing required argument 'default_kms_key_name'",
                "google_storage_bucket.b: encryption: unknown argument 'default_kms_key_nam' "
                "(did you mean 'default_kms_key_name'?)",
            ],
        ),
        (
            'type = "Delete"',
            'type = "Delete"\n        kind = 1',
            "google_storage_bucket.b: lifecycle_rule: action: unknown argument 'kind'",
        ),
        ('type = "Delete"', "", "google_storage_bucket.b: lifecycle_rule: action: missing required argument 'type'"),
        (
            "iterator = key",
            "iterator = key\n    each = 1",
            "google_storage_bucket.b: dynamic 'encryption': unknown argument 'each'",
        ),
        (
            "create_before_destroy = true",
            "create_before = true",
            "google_storage_bucket.b: lifecycle: unknown lifecycle argument 'create_before'",
        ),
        (
            'error_message = "never"',
            "",
            "google_storage_bucket.b: lifecycle.precondition: missing required argument 'error_message'",
        ),
        (
            "count = 1",
            'count = 1\n  project_idd = "p"',
            "data.google_project.p: unknown argument 'project_idd' (did you mean 'project_id'?)",
        ),
        (
            'location   = "EU"',
            'location   = "EU"\n  versioning = true',
            "google_storage_bucket.b: 'versioning' is a block, not an argument: write versioning { ... }",
        ),
        (
            "      condition {\n        age = 1\n      }\n",
            "",
            "google_storage_bucket.b: lifecycle_rule: missing required block 'condition'",
        ),
        ("byte_length = 4", "byte_length = 4\n  anything = 1", None),
        (
            "from = google_storage_bucket.old",
            "from = random_id.r",
            "moved random_id.r -> google_storage_bucket.b: random_id.r is still declared",
        ),
        (
            'to   = google_storage_bucket.b["a"]',
            "to   = google_storage_bucket.c",
            "moved google_storage_bucket.old "
            "-> google_storage_bucket.c: google_storage_bucket.c is not declared in this module",
        ),
    ],
)
def test_each_kind_of_mistake_is_named(
    old: str, new: str, message: str | list[str] | None, tmp_path: Path, schemas: Schemas
) -> None:
    assert old in META
    report, _ = check([write_module(tmp_path, META.replace(old, new, 1))], schemas)
    found = sorted(re.sub(r"^m/main\.tf:\d+: ", "", p.render(tmp_path)) for p in report.problems)
    expected = [] if message is None else [message] if isinstance(message, str) else message
    assert found == sorted(expected)


def test_a_version_constraint_the_schema_does_not_meet_is_a_problem(tmp_path: Path, schemas: Schemas) -> None:
    text = META.replace(
        'google      = { source = "hashicorp/google" }', 'google = { source = "hashicorp/google", version = ">= 7" }'
    )
    report, _ = check([write_module(tmp_path, text)], schemas)
    assert [p.message for p in report.problems] == [
        "requires hashicorp/google '>= 7', but the schema checked against is hashicorp/google 6.50.0 "
        "(@cdktf/provider-google 16.12.1): pin a matching package in tfschema/packages.py"
    ]


@pytest.mark.parametrize(
    ("constraint", "admits"),
    [
        (">= 5.26, < 7", True),
        ("~> 6.0", True),
        ("~> 6", True),
        ("~> 6.50.1", False),
        ("< 6.50", False),
        ("6.50.0", True),
    ],
)
def test_version_constraints(constraint: str, admits: bool) -> None:
    assert satisfies("6.50.0", constraint) is admits


def test_versioning_written_twice_is_caught_once(tmp_path: Path, schemas: Schemas) -> None:
    twice = "versioning {\n    enabled = true\n  }\n  versioning {\n    enabled = false\n  }\n"
    text = META.replace('location   = "EU"', f'location   = "EU"\n  {twice}', 1)
    report, _ = check([write_module(tmp_path, text)], schemas)
    assert [p.message for p in report.problems] == ["at most one 'versioning' block is allowed"]


def test_the_examples_module_call_is_checked_against_the_modules_variables(tmp_path: Path, schemas: Schemas) -> None:
    infra = module_copy(tmp_path)
    example = infra / "examples" / "basic"
    shutil.copytree(INFRA / "examples" / "basic", example)
    edit(example / "main.tf", "  region      = var.region\n", "  regoin      = var.region\n")
    edit(example / "main.tf", "  project_id  = var.project_id\n", "")
    edit(example / "main.tf", 'provider "google" {\n', 'provider "google" {\n  zonee = "x"\n')
    report, _ = check([example], schemas)
    assert {p.message for p in report.problems} == {
        "../.. has no variable 'regoin' (did you mean 'region'?)",
        "missing required input 'project_id'",
        "unknown argument 'zonee' (did you mean 'zone'?)",
    }


def test_terraform_names_come_from_the_manifests_registry_links(schemas: Schemas) -> None:
    google = schemas("hashicorp/google")
    assert google is not None
    function = google.structs[google.resources["google_cloudfunctions2_function"]]
    assert {n for n, required in function.arguments.items() if required} == {"name", "location"}
    assert {"build_config", "service_config", "event_trigger"} <= set(function.blocks)
    build = google.structs[function.blocks["build_config"].struct]
    assert {"entry_point", "service_account", "environment_variables"} <= set(build.arguments)
    # A plain camelCase -> snake_case would give detect_md_5_hash; the registry anchor says detect_md5hash.
    assert "detect_md5hash" in google.structs[google.resources["google_storage_bucket_object"]].arguments
    bucket = google.structs[google.resources["google_storage_bucket"]]
    assert bucket.blocks["versioning"].single and not bucket.blocks["lifecycle_rule"].single
    assert "google_storage_project_service_account" in google.data_sources
    assert "project" in google.structs[google.provider].arguments


def test_a_missing_manifest_fails_with_how_to_fetch_it(tmp_path: Path) -> None:
    absent = Package("hashicorp/google", "@cdktf/provider-google", "0.0.0-not-fetched")
    with pytest.raises(manifest.ManifestMissing) as caught:
        manifest.load(absent)
    assert FETCH_HINT in str(caught.value)
    assert "make provider-schema" in FETCH_HINT


def test_the_command_line_checks_infra_and_the_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tfschema"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hashicorp/google 6.50.0" in result.stdout
    assert ": 0 problem(s)" in result.stdout


def test_references_to_undeclared_resources_are_caught(tmp_path: Path, schemas: Schemas) -> None:
    # What terraform validate would refuse, e.g. a new file still naming a function by its pre-for_each address.
    infra = module_copy(tmp_path)
    edge = infra / "stale.tf"  # beside the module's own edge.tf
    edge.write_text(
        'resource "google_compute_region_network_endpoint_group" "booking" {\n'
        '  name                  = "booking-neg"\n'
        "  region                = var.region\n"
        '  network_endpoint_type = "SERVERLESS"\n'
        "  cloud_run {\n"
        "    service = google_cloudfunctions2_function.booking.service_config[0].service\n"
        "  }\n"
        '  description = "not a reference: google_cloudfunctions2_function.booking"\n'
        "}\n"
        'output "neg" {\n'
        '  description = "the NEG"\n'
        "  value       = [google_compute_region_network_endpoint_group.booking.id, data.google_project.nope.number]\n"
        "}\n",
        encoding="utf-8",
    )
    report, _ = check([infra], schemas)
    assert rendered(report.problems, tmp_path) == {
        "infra/stale.tf:6: google_compute_region_network_endpoint_group.booking: "
        "google_cloudfunctions2_function.booking is not declared in this module",
        "infra/stale.tf:12: output.neg: data.google_project.nope is not declared in this module",
    }
