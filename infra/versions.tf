# Provider and Terraform versions this module is tested against (structurally: see tests/infra/test_infra.py).
#
# google >= 5.26: `build_config.service_account` on google_cloudfunctions2_function (used by
# var.build_service_account) appeared in 5.26.0. < 7 keeps the next major's breaking changes out until they
# have been reviewed. google-beta is declared for callers that configure both providers, as
# terraform-google-modules do; no resource here needs it today.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.26, < 7"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 5.26, < 7"
    }
  }
}
