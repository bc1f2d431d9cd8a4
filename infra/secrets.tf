# The credentials secret. Terraform creates the container only: no google_secret_manager_secret_version with
# the key, so the key never enters the Terraform state or plan. The payload (service account key JSON,
# authorized_user JSON, or the keyless descriptor) is added out of band:
#
#   gcloud secrets versions add <secret> --data-file=key.json --project=<project>
#
# and var.credentials_secret_version pinned to the version that printed.
#
# Access is granted on the secret itself (google_secret_manager_secret_iam_member), never project-wide, and
# only to the runtime service accounts of functions that call Google (all three do).

locals {
  # What each function receives in CREDENTIALS_SECRET: a full Secret Manager version name.
  credentials_secret_version_name = "${google_secret_manager_secret.credentials.id}/versions/${var.credentials_secret_version}"
}

resource "google_secret_manager_secret" "credentials" {
  project   = var.project_id
  secret_id = local.credentials_secret_id
  labels    = local.labels

  replication {
    auto {}
  }

  lifecycle {
    precondition {
      condition     = var.environment != "production" || var.credentials_secret_version != "latest"
      error_message = "credentials_secret_version is \"latest\" in production: pin the version number the key was uploaded as, so that a new version is rolled out by a reviewed change, not by whoever adds one."
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_iam_member" "credentials_accessor" {
  for_each = local.function_names

  project   = var.project_id
  secret_id = google_secret_manager_secret.credentials.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "config_accessor" {
  for_each = local.function_names

  project   = var.project_id
  secret_id = google_secret_manager_secret.config.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

# Keyless DWD: each function signs the delegation JWT as the DWD service account through the IAM Credentials
# API (signJwt). Granted on that one service account, not on the project.
resource "google_service_account_iam_member" "keyless_token_creator" {
  for_each = var.keyless_dwd ? local.function_names : toset([])

  service_account_id = google_service_account.dwd.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.runtime[each.key].email}"
}
