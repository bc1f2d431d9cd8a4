"""Helpers of the security suite: forged and odd tokens, runtimes with one config line changed."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import jwt

from emulator.keys import id_token_key
from emulator.oauth import subject_id
from shared.runtime import Runtime, set_runtime
from tests.helpers.function_app import function_app
from tests.helpers.support import make_config, make_runtime

ADMIN = "admin@example.com"
SCHEDULER = "scheduler@demo-project.iam.gserviceaccount.com"
AUDIENCE = "http://localhost/"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(server: Any, email: str, moment: datetime, **overrides: Any) -> dict[str, Any]:
    issued = int(moment.timestamp())
    claims: dict[str, Any] = {
        "iss": server.url, "aud": AUDIENCE, "sub": subject_id(email), "azp": subject_id(email), "email": email,
        "email_verified": True, "iat": issued, "exp": issued + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def signed(claims: dict[str, Any]) -> str:
    """A token signed by the emulator's real ID-token key: only its claims are odd."""
    pair = id_token_key()
    return jwt.encode(claims, pair.private_key, algorithm="RS256", headers={"kid": pair.key_id})


def stripped(claims: dict[str, Any], signature: str = "SIGNATURE_REMOVED_BY_GOOGLE") -> str:
    """What Cloud Run hands on after verifying (or what a forger writes): header.payload.SIGNATURE_REMOVED..."""
    pair = id_token_key()
    return f"{_b64({'alg': 'RS256', 'kid': pair.key_id, 'typ': 'JWT'})}.{_b64(claims)}.{signature}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def install(server: Any, tmp_path: Any, replace: dict[str, str] | None = None, **kwargs: Any) -> Runtime:
    runtime = make_runtime(server, config=make_config(server, tmp_path / "snapshot", replace=replace), **kwargs)
    set_runtime(runtime)
    return runtime


def client(name: str) -> Any:
    return function_app(name).test_client()
