"""Google Calendar API v3: acl (list, get, insert, patch, update, delete)."""

from __future__ import annotations

import hashlib
from typing import Any

from werkzeug.wrappers import Response

from .calendar_common import (
    ACL_PAGE,
    BASE,
    SCOPE_TYPES,
    SCOPES,
    _arg,
    _bool_arg,
    _invalid,
    _not_found,
    _object_body,
    _open,
    _page,
    _rank,
    _required,
    new_etag,
)
from .errors import GoogleError
from .routing import Ctx, RouteTable
from .state import ROLE_ORDER, AclRule, Calendar, State, rfc3339

routes = RouteTable()


# --- acl ------------------------------------------------------------------------------------------------------
def _rule_resource(rule: AclRule) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": rule.scope_type}
    if rule.scope_type != "default":
        scope["value"] = rule.scope_value
    return {
        "kind": "calendar#aclRule",
        "etag": rule.etag or new_etag(),
        "id": rule.id,
        "scope": scope,
        "role": rule.role,
    }


def _invalid_scope() -> GoogleError:
    return GoogleError(400, "invalidScopeValue", "Invalid scope value.")


def _parse_scope(state: State, raw: Any) -> tuple[str, str, str]:
    """(type, value, rule id) of a requested ACL scope; a missing type is `default` (public), as documented."""
    scope = raw if isinstance(raw, dict) else {}
    scope_type = scope.get("type") or "default"
    value = scope.get("value")
    if scope_type not in SCOPE_TYPES:
        raise _invalid("Invalid scope type value.")
    if scope_type == "default":
        return "default", "", "default"
    if not isinstance(value, str) or not value.strip():
        raise _invalid_scope()
    value = value.strip().lower()
    if scope_type in ("user", "group"):
        local, at, domain = value.partition("@")
        if not local or not at or "." not in domain:
            raise _invalid_scope()
        if scope_type == "group" and domain in state.domains and value not in state.groups:
            raise _invalid_scope()
    else:
        if "@" in value or "." not in value or value not in state.domains:
            raise _invalid_scope()
    return scope_type, value, f"{scope_type}:{value}"


def _parse_role(raw: Any, scope_type: str) -> str:
    if raw is None:
        raise _required(location="role")
    if raw not in ROLE_ORDER:
        raise _invalid("Invalid role value.", location="role")
    if scope_type == "default" and _rank(raw) > _rank("reader"):
        raise GoogleError(400, "illegalAccessRoleForDefault", "Illegal access role for default scope.")
    return str(raw)


def _members(state: State, rule: AclRule) -> list[str]:
    if rule.scope_type == "user":
        return [rule.scope_value]
    if rule.scope_type == "group":
        return list(state.groups.get(rule.scope_value, []))
    return []


def _guard_rule_change(calendar: Calendar, principal: str, rule_id: str, new_role: str) -> None:
    """Google's refusals: your own rule, the data owner's rule, and the last owner."""
    current = calendar.acl.get(rule_id)
    if current is None or current.role == new_role:
        return
    if current.scope_type == "user" and current.scope_value == principal.lower():
        raise GoogleError(403, "cannotChangeOwnAcl", "Cannot change your own access level.", domain="calendar")
    if current.scope_type == "user" and current.scope_value == calendar.id.lower() and calendar.owner == calendar.id:
        raise GoogleError(
            403, "cannotChangeOwnerAcl", "Cannot change the access level of the calendar owner.", domain="calendar"
        )
    if current.role == "owner" and new_role != "owner":
        owners = [
            r
            for r in calendar.acl.values()
            if r.role == "owner" and r.id != rule_id and r.scope_type in ("user", "group")
        ]
        if not owners:
            raise GoogleError(
                403,
                "cannotRemoveLastCalendarOwnerFromAcl",
                "Cannot remove the last owner of a calendar from the access control list.",
                domain="calendar",
            )


def _sync_calendar_lists(state: State, calendar: Calendar, rule: AclRule) -> None:
    """Workspace puts a calendar shared with a user on their list; losing access takes it off."""
    for email in _members(state, rule):
        if email not in state.users:
            continue  # service accounts add shared calendars themselves (calendarList.insert)
        ids = state.calendar_lists.setdefault(email, [])
        visible = state.role_on(calendar, email) != "none"
        if visible and calendar.id not in ids:
            ids.append(calendar.id)
        elif not visible and calendar.id in ids and calendar.id != email:
            ids.remove(calendar.id)


def _share_mail(ctx: Ctx, calendar: Calendar, rule: AclRule) -> None:
    if _bool_arg(ctx, "sendNotifications") is False or rule.role == "none":
        return
    if rule.scope_type not in ("user", "group"):
        return
    ctx.state.mailbox.append(
        {
            "to": rule.scope_value,
            "kind": "share",
            "calendarId": calendar.id,
            "summary": calendar.summary,
            "role": rule.role,
            "ruleId": rule.id,
            "time": rfc3339(),
        }
    )


def _store_rule(ctx: Ctx, calendar: Calendar, rule: AclRule) -> dict[str, Any]:
    rule.etag = new_etag()
    calendar.acl[rule.id] = rule
    _sync_calendar_lists(ctx.state, calendar, rule)
    _share_mail(ctx, calendar, rule)
    return _rule_resource(rule)


@routes.route(f"{BASE}/calendars/<calendar_id>/acl", "GET", "calendar.acl.list")
def acl_list(ctx: Ctx, calendar_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.list"])
    show_deleted = bool(_bool_arg(ctx, "showDeleted"))
    if _arg(ctx, "syncToken"):
        raise GoogleError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "writer")
        rules = [_rule_resource(r) for r in calendar.acl.values() if show_deleted or r.role != "none"]
        chunk, next_token = _page(rules, ctx, ACL_PAGE)
        response: dict[str, Any] = {
            "kind": "calendar#acl",
            "etag": f'"{hashlib.sha1("|".join(r["etag"] for r in rules).encode()).hexdigest()[:16]}"',  # noqa: S324
            "items": chunk,
        }
        if next_token:
            response["nextPageToken"] = next_token
        return response


@routes.route(f"{BASE}/calendars/<calendar_id>/acl/<rule_id>", "GET", "calendar.acl.get")
def acl_get(ctx: Ctx, calendar_id: str, rule_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.get"])
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "writer")
        rule = calendar.acl.get(rule_id)
        if rule is None:
            raise _not_found()
        return _rule_resource(rule)


@routes.route(f"{BASE}/calendars/<calendar_id>/acl", "POST", "calendar.acl.insert")
def acl_insert(ctx: Ctx, calendar_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.insert"])
    _bool_arg(ctx, "sendNotifications")
    body = _object_body(ctx)
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "owner")
        scope_type, value, rule_id = _parse_scope(ctx.state, body.get("scope"))
        role = _parse_role(body.get("role"), scope_type)
        _guard_rule_change(calendar, token.principal, rule_id, role)
        # An insert for a scope that already has a rule replaces that rule's role (same id).
        return _store_rule(ctx, calendar, AclRule(rule_id, scope_type, value, role))


def _change_rule(ctx: Ctx, calendar_id: str, rule_id: str, *, patch: bool) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.patch" if patch else "calendar.acl.update"])
    _bool_arg(ctx, "sendNotifications")
    body = _object_body(ctx)
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "owner")
        rule = calendar.acl.get(rule_id)
        if rule is None:
            raise _not_found()
        if "scope" in body and body["scope"] is not None:
            _type, _value, requested_id = _parse_scope(ctx.state, body["scope"])
            if requested_id != rule.id:
                raise _invalid("Invalid scope value: the scope of a rule cannot be changed.")
        if patch and body.get("role") is None:
            return _rule_resource(rule)
        role = _parse_role(body.get("role"), rule.scope_type)
        _guard_rule_change(calendar, token.principal, rule.id, role)
        return _store_rule(ctx, calendar, AclRule(rule.id, rule.scope_type, rule.scope_value, role))


@routes.route(f"{BASE}/calendars/<calendar_id>/acl/<rule_id>", "PATCH", "calendar.acl.patch")
def acl_patch(ctx: Ctx, calendar_id: str, rule_id: str) -> Any:
    return _change_rule(ctx, calendar_id, rule_id, patch=True)


@routes.route(f"{BASE}/calendars/<calendar_id>/acl/<rule_id>", "PUT", "calendar.acl.update")
def acl_update(ctx: Ctx, calendar_id: str, rule_id: str) -> Any:
    return _change_rule(ctx, calendar_id, rule_id, patch=False)


@routes.route(f"{BASE}/calendars/<calendar_id>/acl/<rule_id>", "DELETE", "calendar.acl.delete")
def acl_delete(ctx: Ctx, calendar_id: str, rule_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.delete"])
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "owner")
        rule = calendar.acl.get(rule_id)
        if rule is None or rule.role == "none":
            raise _not_found()
        _guard_rule_change(calendar, token.principal, rule.id, "none")
        # Deleted rules stay as role "none" (acl.list shows them with showDeleted=true, as documented).
        deleted = AclRule(rule.id, rule.scope_type, rule.scope_value, "none", new_etag())
        calendar.acl[rule.id] = deleted
        _sync_calendar_lists(ctx.state, calendar, deleted)
    return Response(status=204)
