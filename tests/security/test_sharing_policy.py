"""Sharing policy: who may be made owner, and whether a calendar may be shared outside the company's domains.

Each refusal is a 403 naming the setting and the request field, and leaves the calendar's ACL as it was (read
from the emulator's state).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.demo_calendars import TEAM_HOLIDAYS_ID
from shared.config import ConfigError, parse_config
from shared.runtime import set_runtime
from tests.helpers.clients import id_token
from tests.helpers.security_support import ADMIN, AUDIENCE, client, install
from tests.helpers.support import config_text

BOB, CAROL = "bob@example.com", "carol@example.com"
OWNER_ROLE = {'allowed_roles = ["none", "freeBusyReader", "reader", "writer"]':
              'allowed_roles = ["none", "freeBusyReader", "reader", "writer", "owner"]'}
OUTSIDE = [
    pytest.param({"type": "user", "value": "mallory@outside.test"}, id="user-elsewhere"),
    pytest.param({"type": "group", "value": "friends@outside.test"}, id="group-elsewhere"),
    pytest.param({"type": "domain", "value": "outside.test"}, id="other-domain"),
    pytest.param({"type": "user", "value": "ceo@example.com.outside.test"}, id="look-alike"),
    pytest.param({"type": "domain", "value": "notexample.com"}, id="suffix-without-dot"),
]


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    set_runtime(None)


def share(server: Any, scope: dict[str, str], role: str = "reader") -> Any:
    body = {"calendar": "Team Holidays", "owner": "alice@example.com", "scope": scope, "role": role}
    headers = {"Authorization": f"Bearer {id_token(server, ADMIN, AUDIENCE)}"}
    return client("sharing").post("/shares", json=body, headers=headers)


def acl(server: Any) -> dict[str, str]:
    state = server.emulator.state
    with state.lock:
        return {rid: r.role for rid, r in state.calendars[TEAM_HOLIDAYS_ID].acl.items() if r.role != "none"}


def rule_id(scope: dict[str, str]) -> str:
    return f"{scope['type']}:{scope['value']}"


# --- outside the company's domains ------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", OUTSIDE)
def test_sharing_outside_the_company_is_refused_by_default(emulator: Any, tmp_path: Any,
                                                           scope: dict[str, str]) -> None:
    install(emulator, tmp_path)
    before = acl(emulator)
    answer = share(emulator, scope)
    assert answer.status_code == 403, answer.get_json()
    error = answer.get_json()["error"]
    assert error["details"] == {"reason": "outsideDomainDisabled", "setting": "sharing.allow_outside_domain",
                                "field": "scope.value"}
    assert "example.com" in error["message"]
    assert acl(emulator) == before


@pytest.mark.parametrize("scope", [
    pytest.param({"type": "user", "value": BOB}, id="user"),
    pytest.param({"type": "group", "value": "team@example.com"}, id="group"),
    pytest.param({"type": "domain", "value": "example.com"}, id="domain"),
    pytest.param({"type": "user", "value": "dana@eu.example.com"}, id="subdomain"),
])
def test_sharing_inside_the_company_is_allowed(emulator: Any, tmp_path: Any, scope: dict[str, str]) -> None:
    install(emulator, tmp_path)
    assert share(emulator, scope, "writer").status_code in (200, 201)  # the demo domain already reads it
    assert acl(emulator)[rule_id(scope)] == "writer"


def test_allow_outside_domain_lets_an_outsider_in(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path, {"allow_public = false\n": "allow_public = false\nallow_outside_domain = true\n"})
    scope = {"type": "user", "value": "mallory@outside.test"}
    assert share(emulator, scope).status_code == 201
    assert acl(emulator)[rule_id(scope)] == "reader"


def test_sharing_has_its_own_company_domains(emulator: Any, tmp_path: Any) -> None:
    own_domains = 'allow_public = false\ncompany_domains = ["outside.test"]\n'
    install(emulator, tmp_path, {"allow_public = false\n": own_domains})
    assert share(emulator, {"type": "user", "value": "mallory@outside.test"}).status_code == 201
    refused = share(emulator, {"type": "user", "value": BOB})
    assert refused.status_code == 403
    assert f"user:{BOB}" not in acl(emulator)


def test_bulk_refuses_the_outside_item_only(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path)
    items = [{"calendar": "Team Holidays", "owner": "alice@example.com", "role": "reader", "scope": scope}
             for scope in ({"type": "user", "value": CAROL}, {"type": "user", "value": "mallory@outside.test"})]
    headers = {"Authorization": f"Bearer {id_token(emulator, ADMIN, AUDIENCE)}"}
    results = client("sharing").post("/shares", json={"items": items}, headers=headers).get_json()["results"]
    assert [r["status"] for r in results] == [201, 403]
    assert results[1]["error"]["details"]["setting"] == "sharing.allow_outside_domain"
    assert f"user:{CAROL}" in acl(emulator) and "user:mallory@outside.test" not in acl(emulator)


# --- who may be owner -------------------------------------------------------------------------------------------
def test_owner_scopes_name_the_only_users_and_groups_that_may_be_owner(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path, {**OWNER_ROLE,
                                 "allow_owner = false\n": 'owner_scopes = ["user:bob@example.com"]\n'})
    before = acl(emulator)
    refused = share(emulator, {"type": "user", "value": CAROL}, "owner")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["details"] == {"reason": "ownerNotAllowedFor",
                                                      "setting": "sharing.owner_scopes", "field": "scope"}
    assert acl(emulator) == before
    assert share(emulator, {"type": "user", "value": CAROL}, "reader").status_code == 201  # other roles as before
    assert share(emulator, {"type": "user", "value": BOB}, "owner").status_code == 201
    assert acl(emulator)[f"user:{BOB}"] == "owner"


def test_owner_scopes_narrow_allow_owner(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path, {**OWNER_ROLE, "allow_owner = false\n":
                                 'allow_owner = true\nowner_scopes = ["group:team@example.com"]\n'})
    assert share(emulator, {"type": "user", "value": BOB}, "owner").status_code == 403
    assert share(emulator, {"type": "group", "value": "team@example.com"}, "owner").status_code == 201
    assert acl(emulator)["group:team@example.com"] == "owner"


# --- the config lists every problem at once ---------------------------------------------------------------------
def test_config_lists_every_sharing_policy_problem_at_once(emulator: Any) -> None:
    text = config_text(emulator, replace={
        'allowed_roles = ["none", "freeBusyReader", "reader", "writer"]':
            'allowed_roles = ["reader", "owner"]',
        "allow_public = false\n": "allow_public = true\n",
        "allow_owner = false\n": "",
    })
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.toml")
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith("sharing.allowed_roles[1]:") and "owner_scopes" in p for p in found), found
    assert any(p.startswith("sharing.allow_public:") and "allow_outside_domain" in p for p in found), found

    text = config_text(emulator, replace={
        "allow_owner = false\n": 'owner_scopes = ["user:bob@example.com", "mallory@outside.test", '
                                 '"group:friends@outside.test"]\n',
    })
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.toml")
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith("sharing.owner_scopes[1]:") and '"user:EMAIL"' in p for p in found), found
    assert any(p.startswith("sharing.owner_scopes[2]:") and "outside the company" in p for p in found), found
    assert any(p.startswith("sharing.owner_scopes:") and "allowed_roles" in p for p in found), found
    assert len(found) == 3, found
