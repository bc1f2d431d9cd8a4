"""CKV_WCB_2: Functions read a pinned secret version, never latest.

checkov adapter; the rule, its reasons and its documentation are ``wcb_rules.no_latest_secret_version``.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from wcb_rules import LATEST_VERSION_RESOURCES, no_latest_secret_version


class NoLatestSecretVersion(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Functions read a pinned secret version, never latest",
            id="CKV_WCB_2",
            categories=[CheckCategories.SECRETS],
            supported_resources=LATEST_VERSION_RESOURCES,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        verdict = no_latest_secret_version(conf, self.entity_type)
        if verdict.reason:
            self.details.append(verdict.reason)
        return CheckResult(verdict.result)


check = NoLatestSecretVersion()
