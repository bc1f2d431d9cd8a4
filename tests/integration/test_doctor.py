"""`python -m shared.doctor` against the emulator: the demo domain passes; each misconfiguration is named with its fix.

Every misconfiguration is made the way it happens for real: in the emulator's state (the DWD grant, the service
account's public keys, a calendar's ACL), through Secret Manager with the real client, or in the config file.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emulator.demo import (
    BOOKING_DWD_SCOPES,
    DWD_SCOPES,
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_CLIENT_ID,
    SHARING_SERVICE_ACCOUNT_CLIENT_ID,
)
from emulator.state import AclRule
from shared.credentials import ADMIN_CONSOLE_DWD, BOOKING_SCOPES
from shared.doctor import DOCTOR_PROPERTY, main, run_doctor
from tests.helpers.clients import secret_manager_client
from tests.helpers.support import ROOT, SECRET, config_text, set_faults

ACLS = "https://www.googleapis.com/auth/calendar.acls"
ALL_SCOPES_LINE = ",".join(BOOKING_DWD_SCOPES)  # booking's and sync's client; sharing has its own
SINGLE_CLIENT = {'sharing_secret = "projects/demo-project/secrets/sharing-credentials/versions/latest"\n': ""}
SLUGS = ("alice", "bob", "carol")


def _config(server: Any, tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    path = tmp_path / "booking.toml"
    path.write_text(config_text(server, replace=replace), encoding="utf-8")
    return path


def _doctor(capsys: Any, config: Path, *extra: str) -> tuple[int, str]:
    code = main(["--config", str(config), *extra])
    return code, capsys.readouterr().out


def _doctor_json(capsys: Any, config: Path, *extra: str) -> tuple[int, dict[str, dict[str, Any]]]:
    code = main(["--config", str(config), "--json", *extra])
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is (code == 0)
    return code, {check["id"]: check for check in report["checks"]}


def _line(output: str, label: str) -> str:
    """The line of the check labelled `label`, with the indented fix lines under it."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line[6:].startswith(label + "  "):
            block = [line]
            for more in lines[index + 1 :]:
                if not more.startswith("      "):
                    break
                block.append(more)
            return "\n".join(block)
    raise AssertionError(f"no line for {label!r} in:\n{output}")


def _doctor_events(server: Any) -> list[tuple[str, dict[str, Any]]]:
    state = server.emulator.state
    with state.lock:
        return [
            (calendar_id, dict(event))
            for calendar_id, calendar in state.calendars.items()
            for event in calendar.events.values()
            if ((event.get("extendedProperties") or {}).get("private") or {}).get(DOCTOR_PROPERTY)
        ]


def _assert_no_leftover(server: Any) -> None:
    leftovers = [(cid, e["id"]) for cid, e in _doctor_events(server) if e.get("status") != "cancelled"]
    assert leftovers == [], f"the doctor left test events behind: {leftovers}"


def _assert_dwd_fix(block: str) -> None:
    assert ADMIN_CONSOLE_DWD in block
    assert SERVICE_ACCOUNT_CLIENT_ID in block
    assert ALL_SCOPES_LINE in block


# --- the demo domain passes ----------------------------------------------------------------------------------


def test_demo_domain_passes_every_check_and_leaves_nothing_behind(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    lines = output.splitlines()
    assert code == 0, output
    checks = lines[:-1]
    assert all(line.startswith("PASS  ") for line in checks), output
    labels = [line[6:].split("  ")[0] for line in checks]
    assert labels[:5] == ["config", "secret", "secret checksum", "key", "key accepted"]
    for slug in SLUGS:
        assert [f"{slug}: access", f"{slug}: free/busy", f"{slug}: insert"] == [
            label for label in labels if label.startswith(f"{slug}:")
        ]
    assert labels[-3:] == ["sync: access", "sync: free/busy", "sharing: access"]
    assert lines[-1] == f"doctor: all {len(checks)} checks passed"
    assert SERVICE_ACCOUNT_CLIENT_ID in _line(output, "key")
    assert "with calendar.events, calendar.freebusy" in _line(output, "alice: access")
    assert "calendar.acls" not in _line(output, "alice: access")  # sharing's own client holds those
    assert "calendar.acls, calendar.calendarlist.readonly" in _line(output, "sharing: access")

    # The dry run really wrote (one event per calendar), then deleted every one of them, and told nobody.
    written = _doctor_events(emulator)
    assert sorted(cid for cid, _ in written) == ["alice@example.com", "bob@example.com", "carol@example.com"]
    for _cid, event in written:
        assert event["status"] == "cancelled"
        assert event["transparency"] == "transparent"
        assert event["visibility"] == "private"
        assert "attendees" not in event
    _assert_no_leftover(emulator)
    assert emulator.emulator.state.mailbox == []


def test_output_never_shows_the_key_or_a_token(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    config = _config(emulator, tmp_path)
    code, text = _doctor(capsys, config)
    code_json, checks = _doctor_json(capsys, config)
    raw = json.dumps(checks)
    key = emulator.emulator.state.demo["service_account_key"]
    tokens = list(emulator.emulator.state.access_tokens)
    assert (code, code_json) == (0, 0)
    assert tokens
    for output in (text, raw):
        assert "PRIVATE KEY" not in output
        assert key["private_key"].splitlines()[1] not in output
        assert not any(token in output for token in tokens)
        assert "ya29." not in output


def test_json_report_names_every_check(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    code, checks = _doctor_json(capsys, _config(emulator, tmp_path))
    assert code == 0
    expected = ["config", "secret.readable", "secret.checksum", "key.valid", "key.accepted"]
    for slug in SLUGS:
        expected += [f"calendar.{slug}.access", f"calendar.{slug}.freebusy", f"calendar.{slug}.insert"]
    expected += ["sync.access", "sync.freebusy", "sharing.access"]
    assert list(checks) == expected
    assert {check["status"] for check in checks.values()} == {"PASS"}
    assert checks["calendar.alice.access"]["details"]["scopes"] == list(BOOKING_SCOPES)
    assert checks["key.valid"]["details"]["clientId"] == SERVICE_ACCOUNT_CLIENT_ID


def test_runs_as_python_dash_m(emulator: Any, tmp_path: Path) -> None:
    config = _config(emulator, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "shared.doctor", "--config", str(config), "--secret", f"{SECRET}/versions/1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_GCE_CHECK": "true"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("doctor: all ")
    assert f"{SECRET}/versions/1 is readable" in done.stdout
    _assert_no_leftover(emulator)


# --- domain-wide delegation ----------------------------------------------------------------------------------


def test_sharing_client_missing_a_scope_names_its_client_and_scopes(
    emulator: Any, tmp_path: Path, capsys: Any
) -> None:
    state = emulator.emulator.state
    state.dwd_grants[SHARING_SERVICE_ACCOUNT_CLIENT_ID] = [DWD_SCOPES[3]]
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    block = _line(output, "sharing: access")
    assert block.startswith("FAIL")
    assert SHARING_SERVICE_ACCOUNT_CLIENT_ID in block and ACLS in block
    assert _line(output, "alice: access").startswith("PASS")  # booking's client is untouched


def test_grant_missing_a_scope_names_it_and_the_full_list_to_paste(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    """One delegation client for all three functions (no sharing_secret): it needs every scope."""
    global ALL_SCOPES_LINE
    state = emulator.emulator.state
    state.dwd_grants[SERVICE_ACCOUNT_CLIENT_ID] = [scope for scope in DWD_SCOPES if scope != ACLS]
    single, ALL_SCOPES_LINE = ALL_SCOPES_LINE, ",".join(DWD_SCOPES)
    try:
        _single_client_grant_check(emulator, tmp_path, capsys)
    finally:
        ALL_SCOPES_LINE = single


def _single_client_grant_check(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    code, output = _doctor(capsys, _config(emulator, tmp_path, replace=SINGLE_CLIENT))
    assert code == 1
    for slug in SLUGS:
        block = _line(output, f"{slug}: access")
        assert block.startswith("FAIL")
        assert f"may not act as {slug}@example.com with calendar.acls:" in block
        assert "missing from its domain-wide delegation grant" in block
        _assert_dwd_fix(block)
        # Booking's own scopes still work, so its checks still run and pass.
        assert _line(output, f"{slug}: free/busy").startswith("PASS")
        assert _line(output, f"{slug}: insert").startswith("PASS")
    _assert_no_leftover(emulator)

    _, checks = _doctor_json(capsys, _config(emulator, tmp_path, replace=SINGLE_CLIENT))
    details = checks["calendar.alice.access"]["details"]
    assert details["missingScopes"] == [ACLS]
    assert details["clientId"] == SERVICE_ACCOUNT_CLIENT_ID
    assert details["adminConsole"] == ADMIN_CONSOLE_DWD
    assert details["scopes"] == DWD_SCOPES


def test_only_the_deployed_functions_scopes_are_required(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    emulator.emulator.state.dwd_grants[SERVICE_ACCOUNT_CLIENT_ID] = list(BOOKING_SCOPES)
    code, output = _doctor(capsys, _config(emulator, tmp_path), "--functions", "booking,sync")
    assert code == 0, output
    assert "calendar.events, calendar.freebusy" in _line(output, "alice: access")
    assert "calendar.acls" not in output


def test_grant_missing_a_booking_scope_stops_that_calendars_checks(
    emulator: Any, tmp_path: Path, capsys: Any
) -> None:
    emulator.emulator.state.dwd_grants[SERVICE_ACCOUNT_CLIENT_ID] = [ACLS]
    code, output = _doctor(capsys, _config(emulator, tmp_path), "--functions", "booking")
    assert code == 1
    block = _line(output, "alice: access")
    assert "has no domain-wide delegation grant for calendar.events, calendar.freebusy" in block
    assert ADMIN_CONSOLE_DWD in block
    assert "https://www.googleapis.com/auth/calendar.events,https://www.googleapis.com/auth/calendar.freebusy\n" in (
        block + "\n"
    )
    assert _line(output, "alice: insert").startswith("SKIP")


def test_no_grant_at_all(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    del emulator.emulator.state.dwd_grants[SERVICE_ACCOUNT_CLIENT_ID]
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    for slug in SLUGS:
        block = _line(output, f"{slug}: access")
        assert block.startswith("FAIL")
        assert f"client ID {SERVICE_ACCOUNT_CLIENT_ID} may not act as {slug}@example.com" in block
        assert "it has no domain-wide delegation grant" in block
        _assert_dwd_fix(block)
        assert _line(output, f"{slug}: free/busy").startswith("SKIP")
        assert _line(output, f"{slug}: insert").startswith("SKIP")
    assert _line(output, "sync: access").startswith("FAIL")
    assert _line(output, "key accepted").startswith("PASS")  # the key itself is fine
    assert _doctor_events(emulator) == []


def test_unknown_act_as_user(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    config = _config(emulator, tmp_path, replace={'act_as = "bob@example.com"': 'act_as = "robert@example.com"'})
    code, output = _doctor(capsys, config)
    assert code == 1
    block = _line(output, "bob: access")
    assert block.startswith("FAIL")
    assert "Google does not know the user robert@example.com" in block
    assert "calendars[1].act_as" in block
    assert "active user of the Workspace domain" in block
    assert _line(output, "bob: insert").startswith("SKIP")
    assert _line(output, "alice: insert").startswith("PASS")
    assert _line(output, "carol: insert").startswith("PASS")


# --- the secret and the key ----------------------------------------------------------------------------------


def test_secret_that_does_not_exist(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    missing = "projects/demo-project/secrets/no-such-secret/versions/1"
    code, output = _doctor(capsys, _config(emulator, tmp_path), "--secret", missing)
    assert code == 1
    block = _line(output, "secret")
    assert block.startswith("FAIL")
    assert f"Secret version {missing} does not exist" in block
    assert "gcloud secrets versions add no-such-secret --project=demo-project --data-file=key.json" in block
    assert all(line.startswith(("SKIP", "      ")) for line in output.splitlines()[2:-1])
    assert _line(output, "key accepted").startswith("SKIP")
    assert _doctor_events(emulator) == []


def test_config_pointing_at_a_missing_version(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    pinned = {"calendar-credentials/versions/latest": "calendar-credentials/versions/7"}
    config = _config(emulator, tmp_path, replace=pinned)
    code, output = _doctor(capsys, config)
    assert code == 1
    assert "calendar-credentials/versions/7 does not exist" in _line(output, "secret")


def test_disabled_secret_version(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    secret_manager_client(emulator).disable_secret_version(request={"name": f"{SECRET}/versions/1"})
    for pinned in ("latest", "1"):
        code, output = _doctor(capsys, _config(emulator, tmp_path), "--secret", f"{SECRET}/versions/{pinned}")
        assert code == 1
        block = _line(output, "secret")
        assert block.startswith("FAIL")
        assert "DISABLED" in block
    assert "gcloud secrets versions enable 1 --secret=calendar-credentials --project=demo-project" in block


def test_malformed_secret_json(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    secret_manager_client(emulator).add_secret_version(
        request={"parent": SECRET, "payload": {"data": b'{"type": "service_account", "private_key": '}}
    )
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    assert _line(output, "secret").startswith("PASS")
    assert "resolved to version 2" in _line(output, "secret")
    assert _line(output, "secret checksum").startswith("PASS")
    block = _line(output, "key")
    assert block.startswith("FAIL")
    assert f"Secret version {SECRET}/versions/2 is not JSON" in block
    assert "gcloud secrets versions add calendar-credentials --project=demo-project --data-file=key.json" in block
    assert '"private_key"' not in output


def test_secret_with_fields_missing(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    key = dict(emulator.emulator.state.demo["service_account_key"])
    del key["private_key"]
    secret_manager_client(emulator).add_secret_version(
        request={"parent": SECRET, "payload": {"data": json.dumps(key).encode()}}
    )
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    assert "lacks the fields ['private_key']" in _line(output, "key")


def test_credentials_that_do_not_suit_the_calendars_mode(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    client = emulator.emulator.state.demo["oauth_client"]
    grant = {"type": "authorized_user", **{k: client[k] for k in ("client_id", "client_secret", "refresh_token")}}
    secret_manager_client(emulator).add_secret_version(
        request={"parent": SECRET, "payload": {"data": json.dumps(grant).encode()}}
    )
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    block = _line(output, "key")
    assert "holds a authorized_user JSON, but calendars alice, bob, carol need a service_account key" in block
    assert client["client_secret"] not in output
    assert client["refresh_token"] not in output


def test_revoked_key(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    emulator.emulator.state.service_accounts[SERVICE_ACCOUNT].public_keys.clear()  # the key was deleted in IAM
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    assert _line(output, "key").startswith("PASS")  # it still parses; Google no longer accepts it
    block = _line(output, "key accepted")
    assert block.startswith("FAIL")
    assert "revoked or rotated" in block
    assert f"gcloud iam service-accounts keys create key.json --iam-account={SERVICE_ACCOUNT}" in block
    assert "gcloud secrets versions add calendar-credentials --project=demo-project --data-file=key.json" in block
    for slug in SLUGS:
        assert _line(output, f"{slug}: access").startswith("SKIP")
    assert _doctor_events(emulator) == []


def test_corrupted_payload_fails_the_checksum(emulator: Any, tmp_path: Path) -> None:
    payload = json.dumps(emulator.emulator.state.demo["service_account_key"]).encode()

    def corrupted(name: str) -> tuple[str, bytes, int | None]:
        return f"{SECRET}/versions/1", payload, 12345

    report = run_doctor(_config(emulator, tmp_path), accessor=corrupted)
    check = report.get("secret.checksum")
    assert check is not None
    assert check.status == "FAIL"
    assert "failed its CRC32C check" in check.summary
    assert not report.ok


def test_invalid_config_lists_its_problems(tmp_path: Path, capsys: Any) -> None:
    config = tmp_path / "booking.toml"
    config.write_text('[booking]\nslot_step_minutes = "15"\n[[calendars]]\nslug = "Bad Slug"\n', encoding="utf-8")
    code, output = _doctor(capsys, config)
    assert code == 1
    block = _line(output, "config")
    assert block.startswith("FAIL")
    assert "booking.slot_step_minutes" in block
    assert "calendars[0]" in block
    assert "config/README.md" in block


# --- calendars the service account cannot see or change (direct mode) -----------------------------------------

_ALICE_DIRECT = {'mode = "delegated"\nact_as = "alice@example.com"': 'mode = "direct"'}


def test_direct_mode_on_a_calendar_not_shared_with_the_service_account(
    emulator: Any, tmp_path: Path, capsys: Any
) -> None:
    code, output = _doctor(capsys, _config(emulator, tmp_path, replace=_ALICE_DIRECT))
    assert code == 1
    assert _line(output, "alice: access").startswith("PASS")
    for label in ("alice: free/busy", "alice: insert"):
        block = _line(output, label)
        assert block.startswith("FAIL"), output
        assert "notFound" in block or "Not Found" in block
        assert f"Share alice@example.com with {SERVICE_ACCOUNT}" in block
        assert "'Make changes to events'" in block
    assert _line(output, "bob: insert").startswith("PASS")
    _assert_no_leftover(emulator)


def test_direct_mode_with_read_only_access(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    calendar = emulator.emulator.state.calendars["alice@example.com"]
    rule_id = f"user:{SERVICE_ACCOUNT}"
    calendar.acl[rule_id] = AclRule(rule_id, "user", SERVICE_ACCOUNT, "reader", "etag-1")
    code, output = _doctor(capsys, _config(emulator, tmp_path, replace=_ALICE_DIRECT))
    assert code == 1
    assert _line(output, "alice: free/busy").startswith("PASS")
    block = _line(output, "alice: insert")
    assert block.startswith("FAIL")
    assert f"as {SERVICE_ACCOUNT} failed" in block
    assert "with 'Make changes to events'" in block
    _assert_no_leftover(emulator)


def test_direct_mode_with_write_access_passes(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    calendar = emulator.emulator.state.calendars["alice@example.com"]
    rule_id = f"user:{SERVICE_ACCOUNT}"
    calendar.acl[rule_id] = AclRule(rule_id, "user", SERVICE_ACCOUNT, "writer", "etag-1")
    code, output = _doctor(capsys, _config(emulator, tmp_path, replace=_ALICE_DIRECT))
    assert code == 0, output
    assert f"dry run as {SERVICE_ACCOUNT}" in _line(output, "alice: insert")
    _assert_no_leftover(emulator)


def test_delegated_user_who_cannot_see_the_calendar(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    # carol acts for bob's calendar: she sees only its free/busy (the domain default), so the insert is refused.
    config = _config(emulator, tmp_path, replace={'act_as = "bob@example.com"': 'act_as = "carol@example.com"'})
    code, output = _doctor(capsys, config)
    assert code == 1
    assert _line(output, "bob: free/busy").startswith("PASS")
    block = _line(output, "bob: insert")
    assert block.startswith("FAIL")
    assert "as carol@example.com" in block
    assert "set act_as to the calendar's owner" in block
    _assert_no_leftover(emulator)


# --- the dry run cleans up ------------------------------------------------------------------------------------


def test_test_event_is_deleted_even_when_checking_it_fails(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    set_faults(emulator, [{"method": "calendar.events.get", "kind": "quotaExceeded", "rate": 1.0}])
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    block = _line(output, "alice: insert")
    assert block.startswith("FAIL")
    assert "checking that it is gone failed" in block
    assert len(_doctor_events(emulator)) == 3
    _assert_no_leftover(emulator)


def test_failed_delete_is_reported_with_the_event_to_remove(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    set_faults(emulator, [{"method": "calendar.events.delete", "kind": "quotaExceeded", "rate": 1.0}])
    code, checks = _doctor_json(capsys, _config(emulator, tmp_path))
    assert code == 1
    check = checks["calendar.alice.insert"]
    assert check["status"] == "FAIL"
    assert "deleting it failed" in check["summary"]
    assert "by hand" in check["fix"]
    left = {event["id"] for cid, event in _doctor_events(emulator) if cid == "alice@example.com"}
    assert left == {check["details"]["eventId"]}


def test_transient_errors_during_the_dry_run_are_retried(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    set_faults(
        emulator,
        [
            {"method": "calendar.events.insert", "kind": "503", "rate": 1.0, "remaining": 1},
            {"method": "calendar.events.delete", "kind": "503", "rate": 1.0, "remaining": 1},
        ],
    )
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 0, output
    _assert_no_leftover(emulator)


@pytest.mark.parametrize("payload", [b"[]", b'{"type": "external_account"}', base64.b64encode(b"{}")])
def test_other_unusable_payloads(emulator: Any, tmp_path: Path, capsys: Any, payload: bytes) -> None:
    secret_manager_client(emulator).add_secret_version(request={"parent": SECRET, "payload": {"data": payload}})
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    assert _line(output, "key").startswith("FAIL")


def test_insert_with_google_unavailable_fails_and_still_cleans_up(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    set_faults(emulator, [{"method": "calendar.events.insert", "kind": "503", "rate": 1.0}])
    code, output = _doctor(capsys, _config(emulator, tmp_path))
    assert code == 1
    block = _line(output, "alice: insert")
    assert block.startswith("FAIL")
    assert "run the doctor again in a minute" in block
    _assert_no_leftover(emulator)


def test_sharing_alone_needs_only_the_sharing_scopes(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    emulator.emulator.state.dwd_grants[SERVICE_ACCOUNT_CLIENT_ID] = [ACLS, DWD_SCOPES[3]]
    config = _config(emulator, tmp_path, replace=SINGLE_CLIENT)
    code, checks = _doctor_json(capsys, config, "--functions", "sharing")
    assert code == 0, checks
    assert [check_id for check_id in checks if check_id.startswith("calendar.")] == [
        f"calendar.{slug}.access" for slug in SLUGS
    ]
    assert _doctor_events(emulator) == []


def test_an_emulator_that_does_not_answer_is_named_as_such(capsys: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "booking.toml"
    config.write_text((ROOT / "config" / "example.toml").read_text().replace("127.0.0.1:8090", f"127.0.0.1:{port}"))
    code, out = _doctor(capsys, config)
    assert code == 1
    assert "does not answer" in out and "make run" in out and "application-default" not in out


def test_a_module_that_does_not_import_is_named_with_the_install_fix(
    capsys: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    import shared.doctor.credentials as checks

    def access(_name: str) -> Any:
        raise ModuleNotFoundError("No module named 'google'", name="google")

    monkeypatch.setattr(checks, "secret_manager_accessor", lambda _endpoints: access)
    code, out = _doctor(capsys, ROOT / "config" / "example.toml")
    assert code == 1
    block = _line(out, "secret")
    assert block.startswith("FAIL") and "the module google does not import" in block
    assert "make run" in block and ".venv/bin/python -m pip install -e ." in block
    assert "does not answer" not in block and "emulator" not in block


# --- keyless --------------------------------------------------------------------------------------------------

KEYLESS = {
    "secrets/calendar-credentials/": "secrets/calendar-keyless/",
    "secrets/sharing-credentials/": "secrets/sharing-keyless/",
}


def test_keyless_chain_passes_for_a_runtime_identity_with_token_creator(
    emulator: Any, tmp_path: Path, capsys: Any
) -> None:
    emulator.emulator.state.metadata_identity = "sharing-runtime@demo-project.iam.gserviceaccount.com"
    code, output = _doctor(capsys, _config(emulator, tmp_path, replace=KEYLESS), "--functions", "sharing")
    assert code == 1  # the sharing runtime may not sign as booking's client: least privilege, shown as such
    assert _line(output, "token creator").startswith("FAIL")
    emulator.emulator.state.metadata_identity = "booking-runtime@demo-project.iam.gserviceaccount.com"
    code, output = _doctor(capsys, _config(emulator, tmp_path, replace=KEYLESS), "--functions", "booking,sync")
    assert code == 0, output
    assert "keyless_dwd descriptor" in _line(output, "key") and "no key" in _line(output, "key")
    assert "booking-runtime@" in _line(output, "runtime identity")
    assert _line(output, "token creator").startswith("PASS")


def test_keyless_without_token_creator_names_the_role_and_the_command(
    emulator: Any, tmp_path: Path, capsys: Any
) -> None:
    emulator.emulator.state.metadata_identity = "ungranted-runtime@demo-project.iam.gserviceaccount.com"
    code, output = _doctor(capsys, _config(emulator, tmp_path, replace=KEYLESS), "--functions", "booking")
    assert code == 1
    block = _line(output, "token creator")
    assert block.startswith("FAIL")
    assert "roles/iam.serviceAccountTokenCreator" in block
    assert f"add-iam-policy-binding {SERVICE_ACCOUNT}" in block
    assert "--member=serviceAccount:ungranted-runtime@demo-project.iam.gserviceaccount.com" in block
    assert _line(output, "alice: access").startswith("SKIP")


def test_keyless_without_a_runtime_identity_says_how_to_get_one(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    emulator.emulator.state.metadata_identity = ""
    code, output = _doctor(capsys, _config(emulator, tmp_path, replace=KEYLESS), "--functions", "booking")
    assert code == 1
    block = _line(output, "runtime identity")
    assert block.startswith("FAIL") and "--impersonate-service-account" in block
