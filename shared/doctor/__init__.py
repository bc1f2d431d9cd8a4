"""`python -m shared.doctor`: check a deployment's delegation setup, the way `gam check serviceaccount` does.

    python -m shared.doctor --config booking.toml [--secret projects/P/secrets/S/versions/N]
                            [--functions booking,sharing,sync] [--json]

One line per check, PASS or FAIL (SKIP when an earlier failure makes a check meaningless), and under each FAIL
the fix: the Admin console page, the client id and the exact scopes to paste, the secret to add a version to,
the calendar to share. Exit code 0 when every check passed, 1 otherwise.

The checks, in order:

- ``config``: the config file loads (every problem listed at once).
- ``secret.readable``: the credentials secret version can be read (named, its content never shown).
- ``secret.checksum``: the payload's CRC32C matches what Secret Manager sent.
- ``key.valid``: the payload is a ``service_account`` key or ``authorized_user`` JSON with every field, its private
  key loads, and it suits the calendars' modes.
- ``key.accepted``: Google's token endpoint accepts it (not deleted, disabled or revoked).
- per bookable calendar ``<slug>``:
  ``calendar.<slug>.access`` acts as the calendar's user (domain-wide delegation) with exactly the scopes the
  deployed functions need, and names each missing scope;
  ``calendar.<slug>.freebusy`` free/busy answers for the calendar without a per-calendar error;
  ``calendar.<slug>.insert`` a dry run: a private, transparent, clearly labelled event two years ahead, inserted
  with ``sendUpdates=none``, deleted again and verified gone (deleted even when a later step fails).
- ``sync.access`` / ``sync.freebusy`` when the sync function asks free/busy as one user (``sync.act_as``).

Tokens, keys and the secret's content are never printed. Only ``cli.main`` (what ``python -m shared.doctor`` runs) reads
the command line; like every other module it reads no environment variable (pass ``--secret`` where the functions get
``CREDENTIALS_SECRET``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from ..calendar_client import RetryPolicy
from ..clock import SYSTEM_CLOCK
from ..credentials import KEYLESS
from ..secrets import Accessor
from .base import _DOCTOR_RETRY, DOCTOR_PROPERTY, DOCTOR_SUMMARY, FUNCTIONS
from .credentials import CredentialChecks
from .keyless import KeylessChecks
from .report import Check, Report, Status
from .sync import SyncChecks

__all__ = ["DOCTOR_PROPERTY", "DOCTOR_SUMMARY", "FUNCTIONS", "Check", "Report", "Status", "main", "run_doctor"]


class _Doctor(CredentialChecks, KeylessChecks, SyncChecks):
    """Every check, run in order; each stops the ones that depend on it."""

    def run(self) -> None:
        if not self.check_config():
            return
        if not (self.check_secret() and self.check_key()):
            self.skip_google_checks("the credentials secret must be usable first")
            return
        if self.material is not None and self.material.kind == KEYLESS and not self.check_keyless_chain():
            self.skip_google_checks("the keyless signing chain must work first")
            return
        if not self.check_key_accepted():
            self.skip_google_checks("Google must accept the key first")
            return
        assert self.config is not None
        if "booking" in self.functions or "sharing" in self.functions:
            for calendar in self.config.calendars:
                self.check_calendar(calendar)
        if "sync" in self.functions:
            self.check_sync()
        if "sharing" in self.functions and self.sharing_secret_name and self.config.sharing.mode == "delegated":
            self.check_sharing_client()



def run_doctor(
    config_path: str | Path,
    *,
    secret: str | None = None,
    functions: Iterable[str] = FUNCTIONS,
    accessor: Accessor | None = None,
    now: Callable[[], datetime] | None = None,
    retry: RetryPolicy | None = None,
) -> Report:
    """Run every check and return the report (nothing printed). `accessor` replaces Secret Manager (tests)."""
    doctor = _Doctor(
        Path(config_path),
        secret=secret,
        functions=tuple(functions),
        accessor=accessor,
        now=now or SYSTEM_CLOCK.now,
        retry=retry or _DOCTOR_RETRY,
    )
    doctor.run()
    return doctor.report



def main(argv: Sequence[str] | None = None) -> int:
    """The command line (`python -m shared.doctor`); see `shared.doctor.cli`."""
    from .cli import main as cli_main

    return cli_main(argv)
