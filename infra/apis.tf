# Google APIs the deployment needs. Never disabled on destroy: other workloads in the project may use them.

locals {
  apis = toset([
    "admin.googleapis.com",            # Admin SDK: the Admin console's domain-wide delegation grant
    "artifactregistry.googleapis.com", # function images
    "calendar-json.googleapis.com",    # Google Calendar API
    "cloudbuild.googleapis.com",       # builds the function bundles
    "cloudfunctions.googleapis.com",   # Cloud Functions gen2 control plane
    "cloudscheduler.googleapis.com",   # the sync schedule
    "iam.googleapis.com",              # service accounts
    "iamcredentials.googleapis.com",   # signJwt for keyless DWD, OIDC tokens
    "run.googleapis.com",              # gen2 functions run on Cloud Run
    "secretmanager.googleapis.com",    # credentials and config
    "storage.googleapis.com",          # bundles and the availability snapshot
  ])
}

resource "google_project_service" "this" {
  for_each = var.enable_apis ? local.apis : toset([])

  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}
