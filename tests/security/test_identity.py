"""Identity attacks on the sharing and sync functions (issue 13), each kept as a regression test.

A token is believed only when its signature was verified here, or by Cloud Run in the header Cloud Run checks;
its issuer, audience, times and `email_verified` are checked in every case, against the runtime's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from emulator.demo_calendars import TEAM_HOLIDAYS_ID
from shared.clock import PinnedClock
from shared.config import ConfigError
from shared.runtime import set_runtime
from tests.helpers.clients import control, id_token
from tests.helpers.pinned_time import current_clock
from tests.helpers.security_support import (
    ADMIN,
    AUDIENCE,
    SCHEDULER,
    bearer,
    claims_for,
    client,
    signed,
    stripped,
)
from tests.helpers.security_support import install as _install
from tests.helpers.support import config_text, round_trips, set_faults

BOB = "bob@example.com"
OUTSIDER = "mallory@outside.test"
IAM_ON = {"allow_owner = false\niam_protected = false": "allow_owner = false\niam_protected = true"}
SYNC_IAM_ON = {"iam_protected = false\nhorizon_days = 28": "iam_protected = true\nhorizon_days = 28"}
# The attack shares with an outsider; sharing outside the company's domains is allowed here so that only the
# identity decides (tests/security/test_sharing_policy.py keeps the domain rule).
OUTSIDE_ALLOWED = {"allow_public = false\n": "allow_public = false\nallow_outside_domain = true\n"}


def install(server: Any, tmp_path: Any, replace: dict[str, str] | None = None, **kwargs: Any) -> Any:
    return _install(server, tmp_path, {**OUTSIDE_ALLOWED, **(replace or {})}, **kwargs)


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    set_runtime(None)


def share_outsider(sharing: Any, headers: dict[str, str], **kwargs: Any) -> Any:
    body = {"calendar": "Team Holidays", "owner": "alice@example.com",
            "scope": {"type": "user", "value": OUTSIDER}, "role": "writer"}
    return sharing.post("/shares", json=body, headers=headers, **kwargs)


def outsider_role(server: Any) -> str | None:
    state = server.emulator.state
    with state.lock:
        rule = state.calendars[TEAM_HOLIDAYS_ID].acl.get(f"user:{OUTSIDER}")
        return rule.role if rule is not None and rule.role != "none" else None


# --- forged unsigned tokens ---------------------------------------------------------------------------------
@pytest.mark.parametrize("replace", [pytest.param({}, id="iam-off"), pytest.param(IAM_ON, id="iam-on")])
def test_a_forged_unsigned_admin_token_with_a_foreign_issuer_is_refused(emulator: Any, tmp_path: Any,
                                                                        replace: dict[str, str]) -> None:
    install(emulator, tmp_path, replace)
    forged = stripped(claims_for(emulator, ADMIN, current_clock().now(), iss="evil"))
    answer = share_outsider(client("sharing"), bearer(forged))
    assert answer.status_code == 401, answer.get_json()
    assert outsider_role(emulator) is None


def test_without_iam_a_stripped_token_with_perfect_claims_is_refused(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path)
    answer = share_outsider(client("sharing"), bearer(stripped(claims_for(emulator, ADMIN, current_clock().now()))))
    assert answer.status_code == 401
    assert outsider_role(emulator) is None


@pytest.mark.parametrize("signature", ["", "forged"])
def test_an_empty_or_made_up_signature_is_refused_even_behind_iam(emulator: Any, tmp_path: Any,
                                                                  signature: str) -> None:
    install(emulator, tmp_path, IAM_ON)
    forged = stripped(claims_for(emulator, ADMIN, current_clock().now()), signature)
    answer = share_outsider(client("sharing"), bearer(forged))
    assert answer.status_code == 401
    assert outsider_role(emulator) is None


def test_behind_iam_a_stripped_token_in_the_verified_header_is_believed(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path, IAM_ON)
    answer = share_outsider(client("sharing"), bearer(stripped(claims_for(emulator, ADMIN, current_clock().now()))))
    assert answer.status_code == 201, answer.get_json()
    assert outsider_role(emulator) == "writer"


def test_with_x_serverless_authorization_an_unsigned_authorization_header_is_refused(emulator: Any,
                                                                                    tmp_path: Any) -> None:
    """Cloud Run verified bob's token in X-Serverless-Authorization and passed `Authorization` on untouched."""
    install(emulator, tmp_path, IAM_ON)
    verified_bob = stripped(claims_for(emulator, BOB, current_clock().now()))
    forged_admin = stripped(claims_for(emulator, ADMIN, current_clock().now()))
    headers = {"X-Serverless-Authorization": f"Bearer {verified_bob}", **bearer(forged_admin)}
    answer = share_outsider(client("sharing"), headers)
    assert answer.status_code == 401
    assert "X-Serverless-Authorization" in answer.get_json()["error"]["message"]
    assert outsider_role(emulator) is None


def test_the_identity_is_read_from_x_serverless_authorization_when_present(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path, IAM_ON)
    sharing = client("sharing")
    bob = {"X-Serverless-Authorization": f"Bearer {stripped(claims_for(emulator, BOB, current_clock().now()))}",
           **bearer(id_token(emulator, ADMIN, AUDIENCE))}  # a signed admin token in the unverified header
    assert share_outsider(sharing, bob).status_code == 403
    admin = {"X-Serverless-Authorization": f"Bearer {stripped(claims_for(emulator, ADMIN, current_clock().now()))}",
             "Authorization": "Bearer app-token-for-something-else"}
    assert share_outsider(sharing, admin).status_code == 201
    assert outsider_role(emulator) == "writer"


def test_an_alg_none_token_is_refused(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path, IAM_ON)
    import base64
    import json

    def b64(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none'})}.{b64(claims_for(emulator, ADMIN, current_clock().now()))}.x"
    assert share_outsider(client("sharing"), bearer(token)).status_code == 401


def test_an_hs256_token_keyed_with_the_public_certificate_is_refused(emulator: Any, tmp_path: Any) -> None:
    """Algorithm confusion: the issuer's public key used as an HMAC secret must not verify anything."""
    install(emulator, tmp_path, IAM_ON)
    import base64
    import hashlib
    import hmac
    import json

    from emulator.keys import id_token_certificates, id_token_key

    def b64(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    pair = id_token_key()
    header = b64(json.dumps({"alg": "HS256", "kid": pair.key_id, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims_for(emulator, ADMIN, current_clock().now())).encode())
    for secret in (pair.public_pem, id_token_certificates()[pair.key_id]):
        mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        answer = share_outsider(client("sharing"), bearer(f"{header}.{payload}.{b64(mac)}"))
        assert answer.status_code == 401
        assert "algorithm" in answer.get_json()["error"]["message"]
    assert outsider_role(emulator) is None


def test_a_token_signed_by_another_key_under_the_issuers_key_id_is_refused(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path, IAM_ON)
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from emulator.keys import id_token_key

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims_for(emulator, ADMIN, current_clock().now()), other, algorithm="RS256",
                       headers={"kid": id_token_key().key_id})
    answer = share_outsider(client("sharing"), bearer(token))
    assert answer.status_code == 401
    assert "signature" in answer.get_json()["error"]["message"]
    assert outsider_role(emulator) is None


# --- audience: configured, never from the request ---------------------------------------------------------------
@pytest.mark.parametrize("replace", [pytest.param({}, id="iam-off"), pytest.param(IAM_ON, id="iam-on")])
def test_the_audience_is_not_taken_from_host_or_forwarded_proto(emulator: Any, tmp_path: Any,
                                                                replace: dict[str, str]) -> None:
    install(emulator, tmp_path, replace)
    token = id_token(emulator, ADMIN, "https://attacker-service.example/sharing")
    headers = {**bearer(token), "X-Forwarded-Proto": "https"}
    answer = share_outsider(client("sharing"), headers, base_url="http://attacker-service.example/sharing")
    assert answer.status_code == 401
    assert outsider_role(emulator) is None


def test_the_sync_audience_is_not_taken_from_host_or_forwarded_proto(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path)
    token = id_token(emulator, SCHEDULER, "https://attacker-service.example/sync")
    answer = client("sync").post("/", headers={**bearer(token), "X-Forwarded-Proto": "https"},
                                 base_url="http://attacker-service.example/sync")
    assert answer.status_code == 401


def test_a_token_for_the_sync_function_is_refused_by_sharing(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path)
    token = id_token(emulator, ADMIN, "http://127.0.0.1:8080/sync")
    assert share_outsider(client("sharing"), bearer(token)).status_code == 401
    assert share_outsider(client("sharing"), bearer(id_token(emulator, ADMIN, "http://127.0.0.1:8080/sharing"))
                          ).status_code == 201


@pytest.mark.parametrize(("section", "replace"), [("sharing", IAM_ON), ("sync", SYNC_IAM_ON)])
def test_iam_protected_without_audiences_is_a_config_error(emulator: Any, section: str,
                                                           replace: dict[str, str]) -> None:
    text = config_text(emulator, replace=replace)
    text = text.replace(f'audiences = ["http://127.0.0.1:8080/{section}", "{AUDIENCE}"]', "audiences = []")
    from shared.config import parse_config

    with pytest.raises(ConfigError) as raised:
        parse_config(text, "production")
    assert f"{section}.audiences" in [problem.path for problem in raised.value.problems]


def test_identity_audiences_satisfy_every_iam_protected_function(emulator: Any) -> None:
    text = config_text(emulator, replace={**IAM_ON, **SYNC_IAM_ON})
    for section in ("sharing", "sync"):
        text = text.replace(f'audiences = ["http://127.0.0.1:8080/{section}", "{AUDIENCE}"]', "audiences = []")
    text = text.replace("audiences = []  # per function", f'audiences = ["{AUDIENCE}"]  # per function')
    from shared.config import parse_config

    config = parse_config(text, "production")
    assert config.audiences_for("sharing") == (AUDIENCE,) == config.audiences_for("sync")


# --- claims: email_verified, exp / iat / nbf against the injected clock -------------------------------------------
@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"email_verified": "false"}, id="email_verified-string-false"),
        pytest.param({"email_verified": "true"}, id="email_verified-string-true"),
        pytest.param({"email_verified": None}, id="email_verified-missing"),
        pytest.param({"email_verified": False}, id="email_verified-false"),
        pytest.param({"nbf": "LATER"}, id="nbf-in-the-future"),
        pytest.param({"iat": "LATER"}, id="iat-in-the-future"),
        pytest.param({"exp": "PAST"}, id="expired"),
        pytest.param({"iat": None}, id="no-iat"),
        pytest.param({"iss": "https://accounts.google.com.evil.example"}, id="look-alike-issuer"),
        pytest.param({"aud": ["https://elsewhere.example/"]}, id="other-audience-list"),
    ],
)
@pytest.mark.parametrize("form", ["signed", "stripped-behind-iam"])
def test_a_token_with_bad_claims_is_refused(emulator: Any, tmp_path: Any, overrides: dict[str, Any],
                                            form: str) -> None:
    moment = current_clock().now()
    times = {"LATER": int((moment + timedelta(minutes=10)).timestamp()),
             "PAST": int((moment - timedelta(minutes=10)).timestamp())}
    claims = claims_for(emulator, ADMIN, moment, **{k: times.get(v, v) if isinstance(v, str) else v
                                                      for k, v in overrides.items()})
    install(emulator, tmp_path, IAM_ON if form != "signed" else {})
    token = signed(claims) if form == "signed" else stripped(claims)
    answer = share_outsider(client("sharing"), bearer(token))
    assert answer.status_code == 401, answer.get_json()
    assert outsider_role(emulator) is None


def test_times_are_judged_by_the_runtime_clock_with_a_small_skew(emulator: Any, tmp_path: Any) -> None:
    moment = current_clock().now()
    token = signed(claims_for(emulator, ADMIN, moment))  # valid for one hour from now
    install(emulator, tmp_path, clock=PinnedClock(moment + timedelta(hours=1, seconds=20)))  # within the 30 s skew
    assert share_outsider(client("sharing"), bearer(token)).status_code == 201
    install(emulator, tmp_path, clock=PinnedClock(moment + timedelta(hours=1, minutes=2)))
    assert share_outsider(client("sharing"), bearer(token)).status_code == 401
    install(emulator, tmp_path, clock=PinnedClock(moment - timedelta(minutes=5)))  # the token looks issued later
    assert share_outsider(client("sharing"), bearer(token)).status_code == 401


# --- the issuer's keys, unreachable ----------------------------------------------------------------------------
def test_unreachable_issuer_keys_answer_503_to_a_good_token_and_change_nothing(emulator: Any, tmp_path: Any) -> None:
    """The caller's token may be fine: "cannot check it now" is a 503 to retry, never a 401 that blames the token."""
    install(emulator, tmp_path)
    set_faults(emulator, [{"method": "oauth2.certs", "kind": "503"}])
    answer = share_outsider(client("sharing"), bearer(signed(claims_for(emulator, ADMIN, current_clock().now()))))
    assert answer.status_code == 503, answer.get_json()
    assert answer.get_json()["error"]["code"] == "upstream_unavailable"
    assert "keys are unreachable" in answer.get_json()["error"]["message"]
    assert answer.headers["Retry-After"].isdigit()
    assert outsider_role(emulator) is None


def test_keys_in_hand_outlive_a_failing_refetch_and_are_asked_for_again_every_30_seconds(
    emulator: Any, tmp_path: Any
) -> None:
    clock = PinnedClock(current_clock().now(), frozen=True)
    install(emulator, tmp_path, clock=clock)
    sharing = client("sharing")

    def share_now() -> int:
        """200 or 201 once believed (the rule stays as the first share made it); 401/503 otherwise."""
        answer = share_outsider(sharing, bearer(signed(claims_for(emulator, ADMIN, clock.now()))))
        return 201 if answer.status_code in (200, 201) else int(answer.status_code)

    assert share_now() == 201  # the keys are fetched and kept
    set_faults(emulator, [{"method": "oauth2.certs", "kind": "503"}])
    control(emulator, "DELETE", "requests")
    clock.advance(timedelta(hours=2))  # past the keys' hour: they are refetched, which fails
    assert share_now() == 201
    assert round_trips(emulator, "oauth2.certs") == 1
    clock.advance(timedelta(seconds=20))
    assert share_now() == 201
    assert round_trips(emulator, "oauth2.certs") == 1  # not asked again within 30 s
    clock.advance(timedelta(seconds=15))
    assert share_now() == 201
    assert round_trips(emulator, "oauth2.certs") == 2
    set_faults(emulator, [])
    clock.advance(timedelta(seconds=31))
    assert share_now() == 201
    assert round_trips(emulator, "oauth2.certs") == 3  # fetched anew, kept for another hour
    clock.advance(timedelta(minutes=30))
    assert share_now() == 201
    assert round_trips(emulator, "oauth2.certs") == 3


# --- sync ----------------------------------------------------------------------------------------------------------
def test_a_forged_scheduler_token_does_not_run_the_sync(emulator: Any, tmp_path: Any) -> None:
    runtime = install(emulator, tmp_path, SYNC_IAM_ON)
    forged = stripped(claims_for(emulator, SCHEDULER, current_clock().now(), iss="evil"))
    assert client("sync").post("/", headers=bearer(forged)).status_code == 401
    assert runtime.store is not None and runtime.store.read() is None


def test_a_far_future_schedule_time_is_refused_and_does_not_poison_later_runs(emulator: Any,
                                                                             tmp_path: Any) -> None:
    runtime = install(emulator, tmp_path)
    sync = client("sync")
    headers = bearer(id_token(emulator, SCHEDULER, AUDIENCE))
    far = sync.post("/", headers={**headers, "X-CloudScheduler-ScheduleTime": "9999-12-31T23:59:59Z"})
    assert far.status_code == 400
    assert "X-CloudScheduler-ScheduleTime" in far.get_json()["error"]["details"]["fields"]
    assert runtime.store is not None and runtime.store.read() is None
    stamp = runtime.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    first = sync.post("/", headers={**headers, "X-CloudScheduler-ScheduleTime": stamp})
    assert first.status_code == 200 and first.get_json()["duplicate"] is False
    long_ago = (runtime.now() - timedelta(days=2)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert sync.post("/", headers={**headers, "X-CloudScheduler-ScheduleTime": long_ago}).status_code == 400


# --- IAP in front of sharing ---------------------------------------------------------------------------------------
IAP_AUDIENCE = "/projects/123456789/global/backendServices/987654321"


def iap_config(server: Any) -> dict[str, str]:
    return {"allow_owner = false\niam_protected = false":
            f'allow_owner = false\niam_protected = false\niap_audience = "{IAP_AUDIENCE}"'}


def assertion(server: Any, email: str = ADMIN, audience: str = IAP_AUDIENCE, **body: Any) -> dict[str, str]:
    token = control(server, "POST", "iap-assertion", {"email": email, "audience": audience, **body})["assertion"]
    return {"x-goog-iap-jwt-assertion": token}


def test_behind_iap_the_assertion_is_the_identity(emulator: Any, tmp_path: Any) -> None:
    install(emulator, tmp_path, iap_config(emulator))
    sharing = client("sharing")
    assert share_outsider(sharing, assertion(emulator, BOB)).status_code == 403
    assert share_outsider(sharing, bearer(id_token(emulator, ADMIN, AUDIENCE))).status_code == 401  # no assertion
    assert share_outsider(sharing, {**assertion(emulator, ADMIN, "/projects/1/global/backendServices/2")}
                          ).status_code == 401
    assert share_outsider(sharing, assertion(emulator, ADMIN, lifetime=-120)).status_code == 401
    assert share_outsider(sharing, {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{ADMIN}"}
                          ).status_code == 401
    assert outsider_role(emulator) is None
    assert share_outsider(sharing, assertion(emulator, ADMIN)).status_code == 201
    assert outsider_role(emulator) == "writer"


def test_behind_iap_an_assertion_signed_by_another_key_is_refused(emulator: Any, tmp_path: Any) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    from emulator.iap import iap_key

    install(emulator, tmp_path, iap_config(emulator))
    moment = int(current_clock().now().timestamp())
    claims = {"iss": "https://cloud.google.com/iap", "aud": IAP_AUDIENCE, "email": ADMIN, "sub": "x",
              "iat": moment, "exp": moment + 600}
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                        headers={"kid": iap_key()[0]})
    assert share_outsider(client("sharing"), {"x-goog-iap-jwt-assertion": forged}).status_code == 401
    assert outsider_role(emulator) is None


def test_the_emulator_publishes_iap_keys_in_both_formats(emulator: Any) -> None:
    import requests

    jwks = requests.get(f"{emulator.url}/iap/verify/public_key-jwk", timeout=10).json()
    pems = requests.get(f"{emulator.url}/iap/verify/public_key", timeout=10).json()
    assert [key["kid"] for key in jwks["keys"]] == list(pems)
    assert jwks["keys"][0]["kty"] == "EC" and jwks["keys"][0]["crv"] == "P-256"

