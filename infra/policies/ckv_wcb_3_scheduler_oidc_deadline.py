"""CKV_WCB_3: Cloud Scheduler HTTP targets send an OIDC token and set attempt_deadline.

checkov adapter; the rule, its reasons and its documentation are ``wcb_rules.scheduler_oidc_and_deadline``.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from wcb_rules import SCHEDULER_RESOURCES, scheduler_oidc_and_deadline


class SchedulerOidcAndDeadline(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Cloud Scheduler HTTP targets send an OIDC token and set attempt_deadline",
            id="CKV_WCB_3",
            categories=[CheckCategories.IAM],
            supported_resources=SCHEDULER_RESOURCES,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        verdict = scheduler_oidc_and_deadline(conf)
        if verdict.reason:
            self.details.append(verdict.reason)
        return CheckResult(verdict.result)


check = SchedulerOidcAndDeadline()
