"""Sharing use cases: share a calendar (create or update one ACL rule), list its rules, revoke one, in bulk.

What GAM's `calendar ... add|update|delete|showacl` commands do, behind an allow-list of admins:

- Who may call: a verified Google ID token whose email is in `sharing.admins`; otherwise 401 / 403 and nothing is
  read or changed in Google.
- Who acts in Google (`sharing.mode`): `delegated` acts as the request's `owner` through domain-wide delegation
  (`owner` required); `direct` acts as the service account itself (calendars shared with it as owner); and
  `authorized_user` acts as the user of the installed-app grant in the credentials secret. `owner` is ignored in
  the last two.
- Which calendar: a value containing `@` (or `primary`) is first tried as a calendar id; anything else, or an id
  Google does not know, is looked up by name (`summaryOverride` or `summary`; exact, then ignoring case) on the
  acting user's calendar list, every page. Several matches are refused (409 `conflict`, the candidates in
  `details.candidates`), none is 404 `not_found` naming the list that was searched.
- Share = upsert: if the calendar already has a rule for that scope, it is patched (200) instead of adding a
  second one; otherwise one is inserted (201). The same role again is a 200 with no write. `default` (public)
  scopes and the `owner` role are refused (403 `forbidden`) unless `sharing.allow_public` / `sharing.allow_owner`
  are set; `sharing.owner_scopes`, when set, names the only users and groups that may be made owner; scopes
  outside the company's domains (users and groups elsewhere, other domains, the public) are refused unless
  `sharing.allow_outside_domain`; and every role must be in `sharing.allowed_roles` (`shared.sharing_policy`).
  Each refusal names the setting and the request `field`. Revoking (DELETE) is always allowed; Google itself
  refuses removing the last owner.
- Google's refusals come back as the project's errors (by Google's HTTP status) with Google's `reason` in
  `details`, e.g. 403 `forbidden` / `cannotRemoveLastCalendarOwnerFromAcl`, 400 `invalid_request` /
  `invalidScopeValue`; never a 500.
- Bulk (`{"items": [...]}`): every item is validated and applied on its own, in order; the answer is HTTP 200
  with `{"results": [{"status": <what the item alone would have answered>, ...its body}]}` (207-style semantics
  in a 200 envelope, so that clients need no WebDAV status handling).
- Every change (and every refused change) is one structured log line: the admin, the acting identity, the
  calendar, the scope, the role before and after, the action and its outcome. Never a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .calendar_client import CalendarClient, Identity
from .config import SharingConfig
from .credentials import SHARING_SCOPES
from .errors import (
    AppError,
    Conflict,
    DelegationError,
    Forbidden,
    GoogleApiError,
    InvalidRequest,
    NotFound,
    Unauthenticated,
)
from .identity import IdentityVerifier, RequestHeaders
from .logs import log, where_raised
from .sharing_api import ShareRequest, ShareScope
from .sharing_policy import check_policy, describe
from .validation import validate

_MAX_CANDIDATES = 20


@dataclass(frozen=True)
class Actor:
    """Who acts in Google for one request, and how to name them in messages and logs."""

    identity: Identity
    label: str


@dataclass(frozen=True)
class Shared:
    """What one share did: the answer's body, and whether a rule was created (else updated or unchanged)."""

    body: dict[str, Any]
    created: bool

    @property
    def status(self) -> int:
        """The HTTP status this outcome is answered with (201 for a new rule), also each bulk item's `status`."""
        return 201 if self.created else 200


@dataclass
class _Session:
    """What one request already read from Google: calendar lists and ACLs, kept current as rules change."""

    calendar_lists: dict[Identity, list[dict[str, Any]]] = field(default_factory=dict)
    acls: dict[tuple[Identity, str], list[dict[str, Any]]] = field(default_factory=dict)
    resolved: dict[tuple[Identity, str], str] = field(default_factory=dict)


class SharingService:
    def __init__(
        self,
        config: SharingConfig,
        client: CalendarClient,
        verifier: IdentityVerifier,
        *,
        service_account_email: Callable[[], str | None] | None = None,
        domains: tuple[str, ...] = (),
    ) -> None:
        self._config = config
        self._domains = tuple(d.lower() for d in domains)
        self._client = client
        self._verifier = verifier
        self._service_account_email = service_account_email

    # --- who is calling ---------------------------------------------------------------------------------------
    def authorize(self, headers: RequestHeaders) -> str:
        """The caller's email if it is a sharing admin; else 401 (no or bad token) or 403 (not an admin)."""
        try:
            email = self._verifier.caller_email(headers)
        except Unauthenticated as error:
            log("sharing request refused", severity="WARNING", function="sharing", outcome="unauthenticated",
                detail=error.message)
            raise
        if email not in self._config.admins:
            log("sharing request refused", severity="WARNING", function="sharing", outcome="forbidden", caller=email)
            raise Forbidden(
                f"{email} is not a sharing admin: only the addresses in sharing.admins may use this function.",
                details={"caller": email},
            )
        return email

    # --- use cases ------------------------------------------------------------------------------------------
    def share(self, admin: str, request: ShareRequest) -> Shared:
        """Create (`created`) or update the rule for `request.scope` on the calendar."""
        return self._share(admin, request, _Session())

    def share_many(self, admin: str, items: list[Any]) -> dict[str, Any]:
        """Each item validated and applied on its own; one failing item does not stop the others."""
        session = _Session()
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise InvalidRequest("Each item must be a JSON object.", fields={"body": "a JSON object"})
                done = self._share(admin, validate(ShareRequest, item), session, index=index)
                results.append({"status": done.status, **done.body})
            except AppError as error:
                results.append({"status": error.status, **error.to_body()})
            except Exception as error:  # one item's bug must not hide what the others did
                log("unexpected error", severity="ERROR", function="sharing", item=index, error=type(error).__name__,
                    where=where_raised(error))
                message = "Something went wrong on our side with this item; try it again later."
                results.append({"status": 500, "error": {"code": "internal", "message": message}})
        return {"results": results}

    def list_rules(self, admin: str, calendar: str, owner: str | None) -> dict[str, Any]:
        """Every rule of the calendar's ACL."""
        actor = self._actor(owner)
        session = _Session()
        with _unknown_owner_is_bad_input(actor):
            calendar_id = self._resolve(session, actor, calendar)
            rules = self._acl(session, actor, calendar_id)
        log("calendar sharing listed", function="sharing", admin=admin, actingAs=actor.label, calendarId=calendar_id,
            action="list", outcome="ok", rules=len(rules))
        return {"calendarId": calendar_id, "rules": [_public_rule(rule) for rule in rules]}

    def revoke(self, admin: str, calendar: str, owner: str | None, rule_id: str) -> dict[str, Any]:
        """Delete one rule by id; answers the rule as it now stands (role `none`, as Google shows deleted rules)."""
        actor = self._actor(owner)
        session = _Session()
        entry: dict[str, Any] = {"admin": admin, "actingAs": actor.label, "calendar": calendar, "rule": rule_id,
                                 "action": "delete"}
        try:
            with _unknown_owner_is_bad_input(actor):
                calendar_id = self._resolve(session, actor, calendar)
                entry["calendarId"] = calendar_id
                rule = next((r for r in self._acl(session, actor, calendar_id) if r.get("id") == rule_id), None)
                if rule is None:
                    raise NotFound(
                        f"Calendar {calendar_id} has no rule {rule_id!r}: GET /shares lists its rules and their ids.",
                        details={"calendarId": calendar_id, "rule": rule_id},
                    )
                entry.update(_scope_fields(rule), previousRole=rule.get("role"), role="none")
                try:
                    self._client.acl_delete(actor.identity, calendar_id, rule_id)
                except GoogleApiError as error:
                    raise _explained(error, f"Google refused to delete rule {rule_id} of {calendar_id}") from None
        except AppError as error:
            _log_change(entry, error)
            raise
        _log_change(entry, None)
        deleted = {**rule, "role": "none"}
        return {"calendarId": calendar_id, "rule": _public_rule(deleted)}

    # --- one share --------------------------------------------------------------------------------------------
    def _share(
        self, admin: str, request: ShareRequest, session: _Session, *, index: int | None = None
    ) -> Shared:
        scope = request.scope
        entry: dict[str, Any] = {"admin": admin, "calendar": request.calendar, "scopeType": scope.type,
                                 "scopeValue": scope.value, "role": request.role}
        if index is not None:
            entry["item"] = index
        try:
            actor = self._actor(request.owner)
            entry["actingAs"] = actor.label
            check_policy(self._config, self._domains, scope, request.role)
            with _unknown_owner_is_bad_input(actor):
                calendar_id = self._resolve(session, actor, request.calendar)
                entry["calendarId"] = calendar_id
                rules = self._acl(session, actor, calendar_id)
                existing = next((r for r in rules if _same_scope(r, scope)), None)
                entry["previousRole"] = existing.get("role") if existing else None
                rule, created, action = self._apply(actor, calendar_id, scope, request, existing)
                entry["action"] = action
        except AppError as error:
            entry.setdefault("action", "share")
            _log_change(entry, error)
            raise
        _remember(session.acls[(actor.identity, calendar_id)], rule)
        _log_change(entry, None)
        return Shared({"calendarId": calendar_id, "rule": _public_rule(rule)}, created)

    def _apply(
        self,
        actor: Actor,
        calendar_id: str,
        scope: ShareScope,
        request: ShareRequest,
        existing: dict[str, Any] | None,
    ) -> tuple[dict[str, Any], bool, str]:
        """The rule as it now stands, whether it is new, and what was done (insert, unchanged, update)."""
        notify = request.send_notifications
        try:
            if existing is None:
                body: dict[str, Any] = {"scope": _google_scope(scope), "role": request.role}
                inserted = self._client.acl_insert(actor.identity, calendar_id, body, send_notifications=notify)
                return inserted, True, "insert"
            if existing.get("role") == request.role:
                return existing, False, "unchanged"
            rule_id = str(existing["id"])
            patched = self._client.acl_patch(
                actor.identity, calendar_id, rule_id, {"role": request.role}, send_notifications=notify
            )
            return patched, False, "update"
        except GoogleApiError as error:
            what = describe(scope)
            raise _explained(error, f"Google refused to give {what} {request.role} on {calendar_id}") from None

    # --- acting identity ----------------------------------------------------------------------------------
    def _actor(self, owner: str | None) -> Actor:
        mode = self._config.mode
        if mode == "delegated":
            if not owner:
                raise InvalidRequest(
                    "Name the user to act as in `owner` (sharing.mode is \"delegated\"): the calendar's owner, "
                    "e.g. alice@example.com.",
                    fields={"owner": "required: the email of the user to act as"},
                )
            return Actor(Identity("delegated", owner, SHARING_SCOPES), owner)
        if mode == "direct":
            email = self._service_account_email() if self._service_account_email else None
            return Actor(Identity("direct", None, SHARING_SCOPES), email or "the service account")
        return Actor(Identity("authorized_user", None, SHARING_SCOPES), "the authorized user")

    # --- finding the calendar -----------------------------------------------------------------------------
    def _resolve(self, session: _Session, actor: Actor, ref: str) -> str:
        """The calendar id for `ref`: an id the acting user can see, else a name on their calendar list."""
        key = (actor.identity, ref)
        if key not in session.resolved:
            if ref == "primary":
                entries = self._calendar_list(session, actor)
                found = next((str(e["id"]) for e in entries if e.get("primary")), None)
                session.resolved[key] = found or ref
            elif "@" in ref:
                try:
                    self._acl(session, actor, ref)
                    session.resolved[key] = ref
                except NotFound:  # not an id this user can see: maybe a name with an "@" in it
                    session.resolved[key] = self._by_name(session, actor, ref, id_tried=True)
            else:
                session.resolved[key] = self._by_name(session, actor, ref, id_tried=False)
        return session.resolved[key]

    def _by_name(self, session: _Session, actor: Actor, ref: str, *, id_tried: bool) -> str:
        entries = self._calendar_list(session, actor)
        folded = ref.casefold()
        by_id = [e for e in entries if str(e.get("id", "")).casefold() == folded]
        if by_id:
            return str(by_id[0]["id"])
        exact = [e for e in entries if ref in (e.get("summaryOverride"), e.get("summary"))]
        matches = exact or [e for e in entries if folded in _folded_names(e)]
        if len(matches) == 1:
            return str(matches[0]["id"])
        where = f"the calendar list of {actor.label}"
        if matches:
            candidates = [{"id": e.get("id"), "summary": _name(e)} for e in matches[:_MAX_CANDIDATES]]
            raise Conflict(
                f"{len(matches)} calendars on {where} are named {ref!r}: send the calendar's id instead "
                f"({', '.join(str(c['id']) for c in candidates)}).",
                details={"field": "calendar", "calendar": ref, "candidates": candidates},
            )
        tried = f"No calendar with id {ref!r} is visible to {actor.label}, and none" if id_tried else "No calendar"
        raise NotFound(
            f"{tried} of the {len(entries)} calendars on {where} is named {ref!r}. Check the name, or send the "
            "calendar's id.",
            details={"field": "calendar", "calendar": ref, "searched": where, "calendarsSearched": len(entries)},
        )

    def _calendar_list(self, session: _Session, actor: Actor) -> list[dict[str, Any]]:
        if actor.identity not in session.calendar_lists:
            try:
                session.calendar_lists[actor.identity] = self._client.calendar_list(actor.identity)
            except GoogleApiError as error:
                raise _explained(error, f"Google refused to show the calendar list of {actor.label}") from None
        return session.calendar_lists[actor.identity]

    def _acl(self, session: _Session, actor: Actor, calendar_id: str) -> list[dict[str, Any]]:
        key = (actor.identity, calendar_id)
        if key not in session.acls:
            try:
                session.acls[key] = self._client.acl_list(actor.identity, calendar_id)
            except GoogleApiError as error:
                context = f"Google refused to show the sharing of {calendar_id} to {actor.label}"
                raise _explained(error, context) from None
        return session.acls[key]


# --- helpers ------------------------------------------------------------------------------------------------
@contextmanager
def _unknown_owner_is_bad_input(actor: Actor) -> Iterator[None]:
    """In delegated mode, Google not knowing `owner` is the caller's mistake (400 naming `owner`), not a 502."""
    try:
        yield
    except DelegationError as error:
        if actor.identity.mode != "delegated" or error.details.get("reason") != "invalid_grant":
            raise
        raise InvalidRequest(
            f"Google does not know the user {actor.identity.subject} (or the user is suspended): `owner` must be an "
            "active user of the Workspace domain.",
            fields={"owner": "an active user of the domain"},
            details={"reason": "invalid_grant"},
        ) from None


def _explained(error: GoogleApiError, context: str) -> GoogleApiError:
    """The same Google error (status, reason, class) with a message saying what was being done."""
    if error.google_status >= 500 or error.google_status == 429:
        return error
    explained = type(error)(error.google_status, error.reason, f"{context}: {error.message} ({error.reason}).")
    explained.details.update({k: v for k, v in error.details.items() if k not in explained.details})
    return explained


def _google_scope(scope: ShareScope) -> dict[str, str]:
    return {"type": scope.type} if scope.type == "default" else {"type": scope.type, "value": scope.value or ""}


def _same_scope(rule: dict[str, Any], scope: ShareScope) -> bool:
    theirs = rule.get("scope") or {}
    if theirs.get("type") != scope.type:
        return False
    return scope.type == "default" or str(theirs.get("value", "")).lower() == (scope.value or "")


def _remember(rules: list[dict[str, Any]], rule: dict[str, Any]) -> None:
    """Keep a request's copy of an ACL current; like acl.list, it leaves out rules with role `none`."""
    rules[:] = [known for known in rules if known.get("id") != rule.get("id")]
    if rule.get("role") != "none":
        rules.append(rule)


def _public_rule(rule: dict[str, Any]) -> dict[str, Any]:
    scope = rule.get("scope") or {}
    public_scope: dict[str, Any] = {"type": scope.get("type", "default")}
    if public_scope["type"] != "default" and scope.get("value") is not None:
        public_scope["value"] = scope["value"]
    return {"id": rule.get("id"), "scope": public_scope, "role": rule.get("role")}


def _scope_fields(rule: dict[str, Any]) -> dict[str, Any]:
    scope = rule.get("scope") or {}
    return {"scopeType": scope.get("type"), "scopeValue": scope.get("value")}


def _folded_names(entry: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(entry.get(key) or "").strip().casefold() for key in ("summaryOverride", "summary"))


def _name(entry: dict[str, Any]) -> str:
    return str(entry.get("summaryOverride") or entry.get("summary") or "")


def _log_change(entry: dict[str, Any], error: AppError | None) -> None:
    """One line per attempted change: who, which calendar, which scope, which role, what happened."""
    if error is None:
        log("calendar sharing changed" if entry.get("action") != "unchanged" else "calendar sharing unchanged",
            function="sharing", outcome="ok", **entry)
        return
    log(
        "calendar sharing refused",
        severity="WARNING",
        function="sharing",
        outcome=error.code,
        status=error.status,
        reason=error.details.get("reason"),
        detail=error.message,
        **entry,
    )
