"""CKV_WCB_1: Secret Manager payload access is granted on the secret, not on the project, folder or organization.

checkov adapter; the rule, its reasons and its documentation are ``wcb_rules.secret_access_at_secret_level``.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from wcb_rules import SECRET_LEVEL_RESOURCES, secret_access_at_secret_level


class SecretAccessAtSecretLevel(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Secret Manager payload access is granted on the secret, not on the project, folder or organization",
            id="CKV_WCB_1",
            categories=[CheckCategories.IAM],
            supported_resources=SECRET_LEVEL_RESOURCES,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        verdict = secret_access_at_secret_level(conf)
        if verdict.reason:
            self.details.append(verdict.reason)
        return CheckResult(verdict.result)


check = SecretAccessAtSecretLevel()
