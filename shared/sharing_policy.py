"""What sharing allows (the `[sharing]` settings): public scopes, scopes outside the company's domains, the owner
role and who may hold it, and the allowed roles. A refusal is a 403 naming the setting and the request's field."""

from __future__ import annotations

from .config import SharingConfig
from .errors import Forbidden
from .sharing_api import ShareScope
from .visitor_text import in_domains


def check_policy(config: SharingConfig, domains: tuple[str, ...], scope: ShareScope, role: str) -> None:
    """Refuse (403, naming the setting and the request field) a share the config does not allow; `domains` are
    the company's, lower case."""
    if scope.type == "default" and not config.allow_public:
        raise Forbidden(
            "Public sharing (scope type \"default\") is turned off: set sharing.allow_public = true in the config "
            "to allow it, or share with a user, group or domain.",
            details={"reason": "publicSharingDisabled", "setting": "sharing.allow_public", "field": "scope.type"},
        )
    if not config.allow_outside_domain and not _inside(domains, scope):
        where = ", ".join(domains) or "none configured"
        raise Forbidden(
            f"Sharing with {describe(scope)} is turned off: it is outside the company's domains ({where}). "
            "Set sharing.allow_outside_domain = true in the config to allow it.",
            details={"reason": "outsideDomainDisabled", "setting": "sharing.allow_outside_domain",
                     "field": "scope.type" if scope.type == "default" else "scope.value"},
        )
    if role == "owner" and config.owner_scopes:
        if f"{scope.type}:{scope.value}" not in config.owner_scopes:
            raise Forbidden(
                f"{describe(scope)} may not be given role \"owner\": sharing.owner_scopes names who may "
                "(owners can delete the calendar and share it further).",
                details={"reason": "ownerNotAllowedFor", "setting": "sharing.owner_scopes", "field": "scope"},
            )
    elif role == "owner" and not config.allow_owner:
        raise Forbidden(
            "Sharing with role \"owner\" is turned off (owners can delete the calendar and share it further): set "
            "sharing.allow_owner = true (or name who may be owner in sharing.owner_scopes) and add \"owner\" to "
            "sharing.allowed_roles to allow it.",
            details={"reason": "ownerRoleDisabled", "setting": "sharing.allow_owner", "field": "role"},
        )
    if role not in config.allowed_roles:
        allowed = list(config.allowed_roles)
        raise Forbidden(
            f"Role {role!r} is not allowed here; sharing.allowed_roles allows {', '.join(allowed) or 'none'}.",
            details={"reason": "roleNotAllowed", "setting": "sharing.allowed_roles", "allowedRoles": allowed,
                     "field": "role"},
        )

def _inside(domains: tuple[str, ...], scope: ShareScope) -> bool:
    """Whether the scope stays inside the company's domains (a user, group or domain there, or a subdomain)."""
    if scope.type == "default" or not scope.value:
        return False
    value = scope.value if scope.type == "domain" else scope.value.rpartition("@")[2]
    return in_domains("@" + value, domains)


def describe(scope: ShareScope) -> str:
    return "the public" if scope.type == "default" else f"{scope.type} {scope.value}"
