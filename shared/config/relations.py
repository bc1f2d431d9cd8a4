"""The second pass: rules that relate several keys, checked on the raw TOML data so that they are reported with
every value problem pydantic finds (a value that is itself wrong is pydantic's to report and is skipped here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..visitor_text import in_domains
from .calendars import BookingConfig
from .problems import ConfigProblem
from .teams import team_problems


def relation_problems(data: Mapping[str, Any]) -> Iterable[ConfigProblem]:
    yield from _calendar_problems(data.get("calendars"))
    yield from _meeting_type_problems(data.get("calendars"), data.get("booking", {}))
    yield from _role_problems(data.get("sharing"), data.get("booking"))
    yield from _notice_problems(data.get("booking", {}))
    yield from _confirm_problems(data.get("booking", {}))
    yield from _audience_problems(data)
    booking = data.get("booking")
    durations = (booking if isinstance(booking, dict) else {}).get("durations", BookingConfig().durations)
    for path, message in team_problems(data.get("teams"), data.get("calendars"), durations):
        yield ConfigProblem(path, message)


def _calendar_problems(calendars: object) -> Iterable[ConfigProblem]:
    if not isinstance(calendars, list):
        return
    first_use: dict[str, int] = {}
    for index, calendar in enumerate(calendars):
        if not isinstance(calendar, dict):
            continue
        slug = calendar.get("slug")
        if isinstance(slug, str):
            if slug in first_use:
                yield ConfigProblem(
                    f"calendars[{index}].slug",
                    f'"{slug}" is already the slug of calendars[{first_use[slug]}]; expected unique slugs',
                )
            first_use.setdefault(slug, index)
        mode = calendar.get("mode", "delegated")
        if mode == "delegated" and "act_as" not in calendar:
            yield ConfigProblem(
                f"calendars[{index}].act_as",
                'missing; required when mode = "delegated": the email of the user to act as',
            )
        elif mode in ("direct", "authorized_user") and "act_as" in calendar:
            yield ConfigProblem(
                f"calendars[{index}].act_as", f'only allowed when mode = "delegated" (mode is "{mode}"); remove it'
            )


def _meeting_type_problems(calendars: object, booking: object) -> Iterable[ConfigProblem]:
    """Meeting type slugs are unique within their calendar; a type's durations are among the calendar's."""
    if not isinstance(calendars, list):
        return
    defaults = booking.get("durations", list(BookingConfig().durations)) if isinstance(booking, dict) else []
    for index, calendar in enumerate(calendars):
        if not isinstance(calendar, dict) or not isinstance(calendar.get("meeting_types"), list):
            continue
        offered = calendar.get("durations", defaults)
        seen: dict[str, int] = {}
        for n, kind in enumerate(calendar["meeting_types"]):
            if not isinstance(kind, dict):
                continue
            where = f"calendars[{index}].meeting_types[{n}]"
            slug = kind.get("slug")
            if isinstance(slug, str):
                if slug in seen:
                    yield ConfigProblem(
                        f"{where}.slug", f'"{slug}" is already meeting_types[{seen[slug]}]; expected unique slugs'
                    )
                seen.setdefault(slug, n)
            durations = kind.get("durations")
            if isinstance(durations, list) and isinstance(offered, list):
                extra = [d for d in durations if type(d) is int and d not in offered]
                if extra:
                    yield ConfigProblem(
                        f"{where}.durations",
                        f"{extra} not among the calendar's durations {offered}; expected a subset of them",
                    )


def _role_problems(sharing: object, booking: object) -> Iterable[ConfigProblem]:
    if not isinstance(sharing, dict):
        return
    roles = sharing.get("allowed_roles")
    owner_scopes = sharing.get("owner_scopes")
    owner_listed = isinstance(owner_scopes, list) and bool(owner_scopes)
    if isinstance(roles, list) and sharing.get("allow_owner") is not True and not owner_listed:
        for index, role in enumerate(roles):
            if role == "owner":
                yield ConfigProblem(
                    f"sharing.allowed_roles[{index}]",
                    '"owner" is allowed only with sharing.allow_owner = true or sharing.owner_scopes (owners can '
                    "delete the calendar and share it further)",
                )
    if owner_listed and isinstance(roles, list) and "owner" not in roles:
        yield ConfigProblem("sharing.owner_scopes", 'has no effect unless "owner" is in sharing.allowed_roles')
    if sharing.get("allow_outside_domain") is True:
        return
    if sharing.get("allow_public") is True:
        yield ConfigProblem(
            "sharing.allow_public",
            "the public is outside the company's domains: set sharing.allow_outside_domain = true as well",
        )
    domains = sharing.get("company_domains") or (booking.get("company_domains") if isinstance(booking, dict) else None)
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        domains = []
    if domains and owner_listed and isinstance(owner_scopes, list):
        wanted = tuple(d.lower() for d in domains)
        for index, scope in enumerate(owner_scopes):
            email = scope.partition(":")[2] if isinstance(scope, str) else ""
            if "@" in email and not in_domains(email, wanted):
                yield ConfigProblem(
                    f"sharing.owner_scopes[{index}]",
                    f"{email} is outside the company's domains ({', '.join(wanted)}) and "
                    "sharing.allow_outside_domain is false",
                )


def _notice_problems(booking: object) -> Iterable[ConfigProblem]:
    if not isinstance(booking, dict):
        return
    defaults = BookingConfig()
    notice = booking.get("minimum_notice_minutes", defaults.minimum_notice_minutes)
    horizon = booking.get("horizon_days", defaults.horizon_days)
    if type(notice) is int and type(horizon) is int and horizon > 0 and notice >= horizon * 1440:
        yield ConfigProblem(
            "booking.minimum_notice_minutes",
            f"expected less than the horizon ({horizon} days = {horizon * 1440} minutes), "
            "or no slot can ever be booked",
        )


def _confirm_problems(booking: object) -> Iterable[ConfigProblem]:
    """Email confirmation travels in Google's invitation, as a link to the booking page: it needs both."""
    if not isinstance(booking, dict) or booking.get("confirm_email") is not True:
        return
    if booking.get("invite_visitor", BookingConfig().invite_visitor) is False:
        yield ConfigProblem("booking.confirm_email", "needs booking.invite_visitor = true: the confirm link "
                            "reaches the visitor in Google's invitation")
    if not booking.get("manage_url"):
        yield ConfigProblem("booking.confirm_email", "needs booking.manage_url: the confirm link opens the "
                            "booking page")


def _audience_problems(data: Mapping[str, Any]) -> Iterable[ConfigProblem]:
    """An IAM-protected function must know its own audience: it is never derived from request headers."""
    identity = data.get("identity")
    shared = identity.get("audiences") if isinstance(identity, dict) else None
    for function in ("sharing", "sync"):
        table = data.get(function)
        if not isinstance(table, dict) or table.get("iam_protected") is not True:
            continue
        if not table.get("audiences") and not shared and not (function == "sharing" and table.get("iap_audience")):
            yield ConfigProblem(
                f"{function}.audiences",
                f"missing; required when {function}.iam_protected = true: the function's URL as its callers "
                "mint ID tokens for (or set identity.audiences)",
            )
