"""CKV_WCB_4: allUsers / allAuthenticatedUsers may invoke only the booking function.

checkov adapter; the rule, its reasons and its documentation are ``wcb_rules.public_invoker_only_on_booking``.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from wcb_rules import PUBLIC_INVOKER_RESOURCES, public_invoker_only_on_booking


class PublicInvokerOnlyOnBooking(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="allUsers / allAuthenticatedUsers may invoke only the booking function",
            id="CKV_WCB_4",
            categories=[CheckCategories.APPLICATION_SECURITY],
            supported_resources=PUBLIC_INVOKER_RESOURCES,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        verdict = public_invoker_only_on_booking(conf)
        if verdict.reason:
            self.details.append(verdict.reason)
        return CheckResult(verdict.result)


check = PublicInvokerOnlyOnBooking()
