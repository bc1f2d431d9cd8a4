"""What the visitor's invitation says: its title and description from config templates, and its manage links.

The event a booking writes is the invitation Google sends the visitor, so its title names the meeting type, the
employee and the company, and its description carries links to cancel and to reschedule on the booking page.

Templates (``booking.title_template``, ``booking.description_template``) are ``str.format`` strings whose only
fields are :data:`FIELDS`, each bare (no attribute, index, conversion or format spec: ``{visitor.__class__}`` is
refused by the config). The visitor's own text (name, email, notes) is cleaned and the whole description
HTML-escaped before it reaches the calendar, as before.

The manage links carry the booking's token in the URL *fragment* (``#booking=ID&token=T&action=cancel``): a
fragment is never sent to a server, so the token stays out of the page host's access logs; the page reads it and
acts only when the visitor presses its button (a mail scanner opening the link changes nothing). Who can read the
link: the event is written ``visibility: "private"`` ("only event attendees may view event details", Calendar API
events resource), so calendar readers by ACL see busy time only; the employee and calendar writers can read it,
and can already move or cancel the event in Google. A move writes a new booking with a new id, so a new token:
the old link then reads only the old, cancelled booking.
"""

from __future__ import annotations

import html
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

FIELDS: Final = ("meeting_type", "employee", "company", "visitor", "duration")
"""The fields a title or description template may use."""

P_TYPE: Final = "wcbType"
"""Private extended property: the booking's meeting type slug."""
LINKS_HEADING: Final = "Manage this booking:"
RESCHEDULED_PREFIX: Final = "Rescheduled: "


def template_problem(template: str) -> str | None:
    """Why `template` is not a usable template (a message for the config), else None."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"expected a template with {{field}} placeholders (write {{{{ or }}}} for a brace): {error}"
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in FIELDS:
            return f"unknown placeholder {{{field}}}; expected only {', '.join('{' + f + '}' for f in FIELDS)}"
        if spec or conversion:
            return f"placeholder {{{field}}} takes no format spec or conversion; write it as {{{field}}}"
    return None


def render(template: str, values: dict[str, str]) -> str:
    """`template` (checked by :func:`template_problem`) with `values` put in; text only, never attribute access."""
    out: list[str] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            out.append(values.get(field, ""))
    return "".join(out)


DEFAULT_TITLE: Final = "{meeting_type} between {employee} and {visitor}"
DEFAULT_TITLE_WITH_COMPANY: Final = "{meeting_type} between {employee} ({company}) and {visitor}"
DEFAULT_DESCRIPTION: Final = "{meeting_type} with {employee}, booked through the website."
DEFAULT_DESCRIPTION_WITH_COMPANY: Final = "{meeting_type} with {employee} ({company}), booked through the website."


@dataclass(frozen=True)
class Invitation:
    """The texts of one booking's event (before escaping)."""

    title: str
    intro: str


def compose(
    *,
    title_template: str | None,
    description_template: str | None,
    company: str,
    employee: str,
    meeting_type: str,
    visitor: str,
    duration: int,
) -> Invitation:
    values = {
        "meeting_type": meeting_type,
        "employee": employee,
        "company": company,
        "visitor": visitor,
        "duration": str(duration),
    }
    title = title_template or (DEFAULT_TITLE_WITH_COMPANY if company else DEFAULT_TITLE)
    intro = description_template or (DEFAULT_DESCRIPTION_WITH_COMPANY if company else DEFAULT_DESCRIPTION)
    return Invitation(render(title, values).strip()[:1024], render(intro, values).strip())


def default_type_name(duration: int) -> str:
    """The meeting type's name when a calendar has none configured (Calendly's "30 Minute Meeting")."""
    return f"{duration} Minute Meeting"


def description(lines: Iterable[str]) -> str:
    """The event description: `lines` HTML-escaped (the visitor's text among them), as Google stores it."""
    return html.escape("\n".join(lines), quote=False)


def manage_links(base_url: str, booking_id: str, token: str) -> dict[str, str]:
    """The page's links to reschedule and cancel one booking (token in the fragment, see the module doc)."""
    def link(action: str) -> str:
        return f"{base_url}#booking={booking_id}&token={token}&action={action}"

    return {"reschedule": link("reschedule"), "cancel": link("cancel")}


def confirm_link(base_url: str, booking_id: str, token: str) -> str:
    """The page's link to confirm a pending booking: its confirmation token (not the booking's) in the fragment."""
    return f"{base_url}#booking={booking_id}&token={token}&action=confirm"


def links_block(links: dict[str, str]) -> str:
    """The description's closing block with the manage links (and a pending booking's confirm link first),
    escaped like the rest."""
    confirm = [f"Confirm {links['confirm_by']}: {links['confirm']}"] if "confirm" in links else []
    return "\n\n" + description([
        LINKS_HEADING,
        *confirm,
        f"Reschedule: {links['reschedule']}",
        f"Cancel: {links['cancel']}",
    ])


def with_links(
    body: dict[str, Any], base_url: str | None, booking_id: str, token: Callable[[], str],
    confirm: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """`body` (an event) whose description ends with the manage links of `booking_id` (none without a base URL).
    `confirm`: a pending booking's confirmation token and when it lapses, as words ("by 14:30 (Europe/Berlin)")."""
    kept = without_links(str(body.get("description", "")))
    if not base_url:
        return {**body, "description": kept}
    links = manage_links(base_url, booking_id, token())
    if confirm is not None:
        links = {**links, "confirm": confirm_link(base_url, booking_id, confirm[0]), "confirm_by": confirm[1]}
    return {**body, "description": kept + links_block(links)}


def without_links(text: str) -> str:
    """A description without its manage links (a moved booking gets its own)."""
    head, _sep, _tail = text.partition("\n\n" + LINKS_HEADING)
    return head


def rescheduled(text: str, previous_start: datetime, zone_name: str) -> str:
    """A moved booking's description: a first line saying which time it replaces, then the rest (links dropped)."""
    body = without_links(text)
    if body.startswith(RESCHEDULED_PREFIX):
        body = body.partition("\n")[2]
    when = previous_start.strftime("%A %d %B %Y, %H:%M")
    return description([f"{RESCHEDULED_PREFIX}this replaces the booking of {when} ({zone_name})."]) + "\n" + body
