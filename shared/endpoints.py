"""Where each Google API lives: Google's own hosts, or one local emulator that serves them all."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoints:
    calendar: str = "https://www.googleapis.com/calendar/v3/"
    calendar_batch: str = "https://www.googleapis.com/batch/calendar/v3"
    secret_manager: str | None = None  # None: the client library's default
    storage: str | None = None
    token_uri: str | None = None  # None: the token_uri inside the credentials JSON
    # Where google-auth's IAM Credentials calls (iam.Signer: https://iamcredentials.googleapis.com/v1/...) are sent
    # instead; None: Google. google-auth has no option for that host, so the transport reroutes it (credentials.py).
    iam_credentials: str | None = None
    emulated: bool = False

    @classmethod
    def for_emulator(cls, base_url: str) -> Endpoints:
        base = base_url.rstrip("/")
        return cls(
            calendar=f"{base}/calendar/v3/",
            calendar_batch=f"{base}/batch/calendar/v3",
            secret_manager=base,
            storage=base,
            token_uri=f"{base}/token",
            iam_credentials=base,
            emulated=True,
        )

    @classmethod
    def from_emulator_url(cls, emulator_url: str | None) -> Endpoints:
        return cls.for_emulator(emulator_url) if emulator_url else cls()
