"""The sharing function's HTTP contract: request bodies and query strings, validated with pydantic.

Unknown fields are refused (a typo such as `scope.typ` is never silently ignored), and the scope type is always
explicit: Google's default for a missing type is `default`, the public scope.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .values import DOMAIN, EMAIL, EMAIL_MAX_LENGTH, Role, ScopeType

MAX_BULK_ITEMS = 100


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=EMAIL_MAX_LENGTH, pattern=rf"^{EMAIL.pattern}$"),
]
CalendarRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]
RuleId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShareScope(_Strict):
    """Who gets access: `user` / `group` (an email), `domain` (a domain name), or `default` (the public)."""

    type: ScopeType
    value: str | None = Field(default=None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _value_fits_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")
        if kind is None:
            return value  # the type itself is reported as wrong or missing
        if kind == "default":
            if value is not None:
                raise PydanticCustomError("scope_value", 'not allowed for type "default" (the public scope)')
            return None
        expected = 'a domain name like "example.com"' if kind == "domain" else 'an email address like "bob@example.com"'
        if value is None:
            raise PydanticCustomError("missing", f'required for type "{kind}": {expected}')
        cleaned = value.strip().lower()
        pattern = DOMAIN if kind == "domain" else EMAIL
        if len(cleaned) > EMAIL_MAX_LENGTH or not pattern.fullmatch(cleaned):
            raise PydanticCustomError("scope_value", f"expected {expected}")
        return cleaned


class ShareRequest(_Strict):
    """One rule to create or update: `POST /shares` (or one of its `items`)."""

    calendar: CalendarRef
    owner: Email | None = None
    scope: ShareScope
    role: Role
    send_notifications: bool = Field(default=False, alias="sendNotifications", strict=True)


class BulkShareRequest(_Strict):
    """`POST /shares` with `{"items": [...]}`: each item is checked on its own, so one bad item stops nothing."""

    items: Annotated[list[Any], Field(min_length=1, max_length=MAX_BULK_ITEMS)]


class SharesQuery(_Strict):
    """`GET /shares?calendar=...&owner=...`."""

    calendar: CalendarRef
    owner: Email | None = None


class RevokeQuery(_Strict):
    """`DELETE /shares?calendar=...&owner=...&rule=...`."""

    calendar: CalendarRef
    owner: Email | None = None
    rule: RuleId
