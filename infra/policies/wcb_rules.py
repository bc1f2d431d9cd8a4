"""The rules behind the project's custom checkov policies (CKV_WCB_1 ... CKV_WCB_5), free of checkov.

checkov loads every ``.py`` file in this folder (``--external-checks-dir infra/policies``); each ``ckv_wcb_*``
module there is a thin ``BaseResourceCheck`` adapter around one function below. The functions take a
resource's configuration the way checkov hands it over (every attribute value wrapped in a list, every nested
block a list of dicts, values rendered as far as checkov could: variable defaults resolved, references left as
text such as ``google_cloudfunctions2_function.sync.service_config[0].uri``) and return a ``Verdict``. Keeping
them free of checkov lets the project's own test suite import and exercise them without checkov installed;
tests/infra/test_infra.py also runs each through checkov against fixtures in ``policies/tests/``.

The rules cover what checkov itself lacks for this stack (DESIGN section 9): Secret Manager, Cloud Scheduler,
public invokers on anything but the booking function, and instance caps on gen2 functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PASSED = "PASSED"
FAILED = "FAILED"


@dataclass(frozen=True)
class Verdict:
    """``result`` is ``PASSED`` or ``FAILED`` (the names of checkov's ``CheckResult``); ``reason`` says why."""

    result: str
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.result == PASSED


def _ok(reason: str = "") -> Verdict:
    return Verdict(PASSED, reason)


def _fail(reason: str) -> Verdict:
    return Verdict(FAILED, reason)


# --- Reading checkov's resource configuration --------------------------------------------------------------


def value(conf: dict[str, Any], key: str) -> Any:
    """The attribute's value: checkov wraps each in a one-element list. None when absent."""
    raw = conf.get(key)
    if isinstance(raw, list):
        return raw[0] if raw else None
    return raw


def blocks(conf: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The nested blocks named ``key`` (checkov gives a list of dicts, one per block)."""
    raw = conf.get(key)
    if isinstance(raw, dict):
        return [raw]
    if isinstance(raw, list):
        return [b for b in raw if isinstance(b, dict)]
    return []


def text(item: Any) -> str:
    """A scalar as stripped text, without HCL's ``${...}`` wrapper around a lone expression."""
    if item is None:
        return ""
    s = str(item).strip().strip('"').strip()
    if s.startswith("${") and s.endswith("}") and s.count("${") == 1:
        s = s[2:-1].strip()
    return s


def members(conf: dict[str, Any]) -> list[str]:
    """Principals of an ``*_iam_member`` (``member``) or ``*_iam_binding`` (``members``) resource."""
    found: list[str] = []
    member = value(conf, "member")
    if member is not None:
        found.append(text(member))
    listed = value(conf, "members")
    if isinstance(listed, list):
        found.extend(text(m) for m in listed)
    elif listed is not None:
        found.append(text(listed))
    return found


def is_set(item: Any) -> bool:
    return text(item) not in ("", "null", "None")


# --- CKV_WCB_1: Secret Manager access only at secret level -------------------------------------------------

# Roles that read secret payloads (secretmanager.versions.access).
SECRET_PAYLOAD_ROLES = frozenset({"roles/secretmanager.secretAccessor", "roles/secretmanager.admin"})

SECRET_LEVEL_RESOURCES = (
    "google_project_iam_member",
    "google_project_iam_binding",
    "google_project_iam_policy",
    "google_folder_iam_member",
    "google_folder_iam_binding",
    "google_folder_iam_policy",
    "google_organization_iam_member",
    "google_organization_iam_binding",
    "google_organization_iam_policy",
)


def secret_access_at_secret_level(conf: dict[str, Any]) -> Verdict:
    """Fail a project/folder/organization grant of a role that reads every secret's payload.

    Grant ``roles/secretmanager.secretAccessor`` with ``google_secret_manager_secret_iam_member`` on the one
    secret a function needs instead: a project-level grant also opens every other secret in the project.
    """
    role = text(value(conf, "role"))
    if role in SECRET_PAYLOAD_ROLES:
        return _fail(f"{role} granted above the secret; grant it on the secret (google_secret_manager_secret_iam_*)")
    policy = text(value(conf, "policy_data"))
    for payload_role in sorted(SECRET_PAYLOAD_ROLES):
        if payload_role in policy:
            return _fail(f"{payload_role} in a project/folder/organization IAM policy; grant it on the secret")
    return _ok()


# --- CKV_WCB_2: no "latest" secret version in function configuration ---------------------------------------

LATEST_VERSION_RESOURCES = ("google_cloudfunctions2_function", "google_cloudfunctions_function")

_LATEST_VERSION_NAME = re.compile(r"(^|/)versions/latest$")


def _latest_in_secret_refs(holder: dict[str, Any]) -> Iterable[str]:
    for env in blocks(holder, "secret_environment_variables"):
        if text(value(env, "version")) == "latest":
            yield f"secret_environment_variables {text(value(env, 'key'))} reads version latest"
    for volume in blocks(holder, "secret_volumes"):
        versions = blocks(volume, "versions")
        where = text(value(volume, "mount_path"))
        if not versions:
            yield f"secret_volumes at {where} has no versions block, which mounts the latest version"
        for version in versions:
            if text(value(version, "version")) == "latest":
                yield f"secret_volumes at {where} mounts version latest"


def no_latest_secret_version(conf: dict[str, Any], resource_type: str) -> Verdict:
    """Fail a function that reads a secret at version ``latest``.

    Looks at plain environment variables whose value is a secret version name ending in ``/versions/latest``
    (such as ``CREDENTIALS_SECRET``; a variable whose default is ``latest`` reaches the value through checkov's
    variable rendering), at ``secret_environment_variables`` and at ``secret_volumes`` (a volume without
    ``versions`` mounts the latest). With ``latest`` whoever adds a secret version deploys it, unreviewed, at
    the next cold start, and instances disagree about which one they hold.
    """
    holder = conf
    if resource_type == "google_cloudfunctions2_function":
        configs = blocks(conf, "service_config")
        if not configs:
            return _ok()
        holder = configs[0]
    problems: list[str] = []
    env = value(holder, "environment_variables")
    if isinstance(env, dict):
        for name, raw in sorted(env.items()):
            if _LATEST_VERSION_NAME.search(text(raw[0] if isinstance(raw, list) and raw else raw)):
                problems.append(f"environment variable {name} names secret version latest")
    elif env is not None and _LATEST_VERSION_NAME.search(text(env)):
        problems.append("environment_variables name secret version latest")
    problems.extend(_latest_in_secret_refs(holder))
    if problems:
        return _fail("; ".join(problems) + ": pin a version number")
    return _ok()


# --- CKV_WCB_3: Cloud Scheduler HTTP targets authenticate with OIDC and bound each attempt ------------------

SCHEDULER_RESOURCES = ("google_cloud_scheduler_job",)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def scheduler_oidc_and_deadline(conf: dict[str, Any]) -> Verdict:
    """An HTTP-target job must send an OIDC ID token (service account + audience) and set attempt_deadline.

    Without ``oidc_token`` the call is unauthenticated (the target must then be public); ``oauth_token`` is
    for ``*.googleapis.com`` and Cloud Run refuses it. Without ``attempt_deadline`` Scheduler applies its
    default (180 s) whatever the function's timeout is. A literal deadline must lie within Scheduler's 15 s to
    30 min for HTTP targets.
    """
    targets = blocks(conf, "http_target")
    if not targets:
        return _ok("not an HTTP target")
    problems: list[str] = []
    target = targets[0]
    if blocks(target, "oauth_token"):
        problems.append("http_target uses oauth_token; Cloud Run and Cloud Functions need oidc_token")
    oidc = blocks(target, "oidc_token")
    if not oidc:
        problems.append("http_target has no oidc_token")
    else:
        if not is_set(value(oidc[0], "service_account_email")):
            problems.append("oidc_token has no service_account_email")
        if not is_set(value(oidc[0], "audience")):
            problems.append("oidc_token has no audience (set it to the function's URL)")
    deadline = value(conf, "attempt_deadline")
    if not is_set(deadline):
        problems.append("attempt_deadline is not set")
    else:
        match = _DURATION.match(text(deadline))
        if match and not 15 <= float(match.group(1)) <= 1800:
            problems.append(f"attempt_deadline {text(deadline)} is outside 15s..1800s")
    if problems:
        return _fail("; ".join(problems))
    return _ok()


# --- CKV_WCB_4: public invokers only on the booking function -----------------------------------------------

PUBLIC_PRINCIPALS = frozenset({"allUsers", "allAuthenticatedUsers"})
INVOKER_ROLES = frozenset({"roles/run.invoker", "roles/cloudfunctions.invoker"})

PUBLIC_INVOKER_RESOURCES = (
    "google_cloud_run_service_iam_member",
    "google_cloud_run_service_iam_binding",
    "google_cloud_run_v2_service_iam_member",
    "google_cloud_run_v2_service_iam_binding",
    "google_cloudfunctions2_function_iam_member",
    "google_cloudfunctions2_function_iam_binding",
    "google_cloudfunctions_function_iam_member",
    "google_cloudfunctions_function_iam_binding",
)

# The functions allowed to be public, by name: "booking", "<prefix>-booking", ".../services/<prefix>-booking",
# or a reference to a resource named booking (google_cloudfunctions2_function.booking.name and the like) or to
# the booking instance of a for_each resource (google_cloudfunctions2_function.function["booking"].name).
PUBLIC_FUNCTIONS = ("booking",)
_TARGET_ATTRIBUTES = ("name", "service", "cloud_function")


def _is_public_function(target: str) -> bool:
    for name in PUBLIC_FUNCTIONS:
        if re.search(rf"(^|[-/.]){re.escape(name)}$", target):
            return True
        resource = r"^google_(cloudfunctions2?_function|cloud_run(_v2)?_service)\."
        if re.match(rf'{resource}({re.escape(name)}|\w+\["{re.escape(name)}"\])\.', target):
            return True
    return False


def public_invoker_only_on_booking(conf: dict[str, Any]) -> Verdict:
    """Fail ``allUsers`` / ``allAuthenticatedUsers`` on any function or service but booking.

    checkov's own CKV_GCP_107 looks only at ``allUsers`` on Cloud Functions IAM and CKV_GCP_102 only at Cloud
    Run v1; neither knows that one function here is meant to be public. ``allAuthenticatedUsers`` is any
    Google account in the world, not "our users", so it is public too. On booking only an invoker role may
    be public.
    """
    public = sorted(set(members(conf)) & PUBLIC_PRINCIPALS)
    if not public:
        return _ok()
    targets = [text(value(conf, attr)) for attr in _TARGET_ATTRIBUTES if is_set(value(conf, attr))]
    role = text(value(conf, "role"))
    who = ", ".join(public)
    if not any(_is_public_function(t) for t in targets):
        return _fail(f"{who} granted {role} on {targets or ['?']}; only the booking function may be public")
    if role not in INVOKER_ROLES:
        return _fail(f"{who} granted {role} on booking; only an invoker role may be public")
    return _ok(f"public invoker on the booking function ({who})")


# --- CKV_WCB_5: every function caps its instances ----------------------------------------------------------

MAX_INSTANCES_RESOURCES = ("google_cloudfunctions2_function", "google_cloudfunctions_function")


def max_instances_set(conf: dict[str, Any], resource_type: str) -> Verdict:
    """Fail a function without an instance cap (gen2 ``service_config.max_instance_count``, gen1
    ``max_instances``). Unset, a public function scales to the platform default (100 or more) and with it the
    bill and the Google API quota a burst can burn; 0 means unset."""
    if resource_type == "google_cloudfunctions2_function":
        configs = blocks(conf, "service_config")
        if not configs:
            return _fail("no service_config block, so no max_instance_count")
        holder, key = configs[0], "max_instance_count"
    else:
        holder, key = conf, "max_instances"
    cap = value(holder, key)
    if not is_set(cap):
        return _fail(f"{key} is not set")
    try:
        number = int(text(cap))
    except ValueError:
        return _ok(f"{key} = {text(cap)} (not a literal)")
    if number < 1:
        return _fail(f"{key} = {number}; 0 means no cap")
    return _ok()
