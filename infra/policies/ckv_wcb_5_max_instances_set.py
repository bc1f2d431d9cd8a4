"""CKV_WCB_5: Every Cloud Function caps its instances (max_instance_count).

checkov adapter; the rule, its reasons and its documentation are ``wcb_rules.max_instances_set``.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from wcb_rules import MAX_INSTANCES_RESOURCES, max_instances_set


class MaxInstancesSet(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Every Cloud Function caps its instances (max_instance_count)",
            id="CKV_WCB_5",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=MAX_INSTANCES_RESOURCES,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        verdict = max_instances_set(conf, self.entity_type)
        if verdict.reason:
            self.details.append(verdict.reason)
        return CheckResult(verdict.result)


check = MaxInstancesSet()
