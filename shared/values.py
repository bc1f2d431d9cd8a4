"""The project's value types, in one place: what an email, a domain, a slug, a time zone name, a role and a mode
look like, for the config (`shared.config`) and the two HTTP contracts (`shared.booking_api`,
`shared.sharing_api`).

Each shape is a pattern (for pydantic `StringConstraints` and the OpenAPI document) and a plain validator raising
`ValueError` with what is expected (for the config's `AfterValidator`s). A visitor's email in a booking is read
more leniently (`shared.visitor_text.normalize_email`: international domains, the local part's case kept), since
a visitor is not an account of the company; every other email (admins, owners, scopes, act-as users) uses `EMAIL`.
"""

from __future__ import annotations

import re
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN: Final = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
"""A DNS name with at least two labels and an alphabetic top-level label (`example.com`)."""
EMAIL: Final = re.compile(rf"[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{DOMAIN.pattern}")
"""An ASCII address `local@domain` (matched whole; compared lower-cased)."""
EMAIL_MAX_LENGTH: Final = 254
SLUG: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
"""A public id from config (`alice`): lowercase letters, digits and `-`, at most 63 characters."""
TIME_ZONE_NAME: Final = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")
"""The characters an IANA time zone name may have (`Europe/Berlin`); `time_zone_name` also checks it exists."""

Role = Literal["none", "freeBusyReader", "reader", "writer", "owner"]
"""A Calendar ACL role, weakest first."""
ScopeType = Literal["user", "group", "domain", "default"]
"""Who a Calendar ACL rule is for; `default` is the public."""
Mode = Literal["delegated", "direct", "authorized_user"]
"""How the service acts in Google: as a user (domain-wide delegation), as itself, or as an installed-app grant."""


def slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise ValueError(
            'expected a slug: lowercase letters, digits and "-", starting with a letter or digit, at most 63 characters'
        )
    return value


def email(value: str) -> str:
    """`value` lower-cased if it is an email address, else ValueError."""
    if not EMAIL.fullmatch(value):
        raise ValueError('expected an email address like "alice@example.com"')
    return value.lower()


def domain(value: str) -> str:
    """`value` lower-cased if it is a domain name, else ValueError."""
    if not DOMAIN.fullmatch(value):
        raise ValueError('expected a domain name like "example.com"')
    return value.lower()


def time_zone_name(value: str) -> str:
    """`value` if `zoneinfo` knows it as an IANA time zone, else ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError('expected an IANA time zone name like "Europe/Berlin"') from None
    return value
