# Minimal deployment of the module: all three functions, secrets, buckets and the sync schedule.
#
#   make package                                  # builds dist/{booking,sharing,sync}.zip
#   cd infra/examples/basic
#   cp terraform.tfvars.example terraform.tfvars  # and edit
#   terraform init && terraform apply
#
# Then add the booking-token key, and authorise dwd_client_id for dwd_scopes and sharing_dwd_client_id for
# sharing_dwd_scopes in the Admin console (docs/DEPLOY.md). With keyless_dwd = true there is no key to upload.

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}

module "calendar_booking" {
  source = "../.."

  project_id  = var.project_id
  region      = var.region
  name_prefix = var.name_prefix
  environment = var.environment

  bundle_dir              = "${path.root}/../../../dist"
  booking_config_template = "${path.root}/booking.toml.tftpl"

  credentials_secret_version = var.credentials_secret_version
  token_key_secret_version   = var.token_key_secret_version
  keyless_dwd                = var.keyless_dwd

  allowed_origins       = var.allowed_origins
  sharing_admins        = var.sharing_admins
  booking_max_instances = var.booking_max_instances
}
