# The secrets the functions read, one per use, each readable only by the functions that use it (least privilege):
#
#   <prefix>-calendar-credentials   booking, sync   the booking/sync delegation client (CREDENTIALS_SECRET)
#   <prefix>-sharing-credentials    sharing         sharing's delegation client (SHARING_CREDENTIALS_SECRET)
#   <prefix>-booking-token-key      booking         32+ random bytes that sign booking tokens (TOKEN_KEY_SECRET)
#
# With keyless_dwd = true (recommended) Terraform writes each credentials secret's only version itself: a
# descriptor {"type": "keyless_dwd", "client_email", "client_id"} naming the DWD service account, nothing secret
# (a precondition refuses key material). No key exists; the functions sign through IAM Credentials.
#
# Without it, Terraform creates the containers only: no version with a key, so a key never enters the Terraform
# state or plan. The key JSON is added out of band,
#
#   gcloud secrets versions add <secret> --data-file=key.json --project=<project>
#
# and the *_secret_version variable pinned to the version that printed. The token key is always added out of band
# (docs/DEPLOY.md): it is random bytes nobody issues, and Terraform would keep it in its state.
#
# Access is granted on each secret itself (google_secret_manager_secret_iam_member), never project-wide.

locals {
  # Who reads which secret.
  secret_readers = {
    credentials         = toset(["booking", "sync"])
    sharing_credentials = toset(["sharing"])
    token_key           = toset(["booking"])
  }

  # The keyless descriptors: which DWD service account each delegation client signs as.
  keyless_descriptors = var.keyless_dwd ? {
    credentials = jsonencode({
      type         = "keyless_dwd"
      client_email = google_service_account.dwd.email
      client_id    = google_service_account.dwd.unique_id
    })
    sharing_credentials = jsonencode({
      type         = "keyless_dwd"
      client_email = google_service_account.dwd_sharing.email
      client_id    = google_service_account.dwd_sharing.unique_id
    })
  } : {}

  # What each function receives: full Secret Manager version names.
  credentials_secret_version_name = (var.keyless_dwd
    ? google_secret_manager_secret_version.keyless["credentials"].name
    : "${google_secret_manager_secret.credentials.id}/versions/${var.credentials_secret_version}"
  )
  sharing_credentials_secret_version_name = (var.keyless_dwd
    ? google_secret_manager_secret_version.keyless["sharing_credentials"].name
    : "${google_secret_manager_secret.sharing_credentials.id}/versions/${var.sharing_credentials_secret_version}"
  )
  token_key_secret_version_name = "${google_secret_manager_secret.token_key.id}/versions/${var.token_key_secret_version}"
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

resource "google_secret_manager_secret" "sharing_credentials" {
  project   = var.project_id
  secret_id = local.sharing_credentials_secret_id
  labels    = local.labels

  replication {
    auto {}
  }

  lifecycle {
    precondition {
      condition     = var.environment != "production" || var.sharing_credentials_secret_version != "latest"
      error_message = "sharing_credentials_secret_version is \"latest\" in production: pin the version number the key was uploaded as."
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret" "token_key" {
  project   = var.project_id
  secret_id = local.token_key_secret_id
  labels    = local.labels

  replication {
    auto {}
  }

  lifecycle {
    precondition {
      condition     = var.environment != "production" || var.token_key_secret_version != "latest"
      error_message = "token_key_secret_version is \"latest\" in production: pin the version number the token key was added as."
    }
  }

  depends_on = [google_project_service.this]
}

# Keyless: the descriptor is the secret's only version. It names an account; it grants nothing by itself.
resource "google_secret_manager_secret_version" "keyless" {
  for_each = local.keyless_descriptors

  secret      = each.key == "credentials" ? google_secret_manager_secret.credentials.id : google_secret_manager_secret.sharing_credentials.id
  secret_data = each.value

  lifecycle {
    precondition {
      condition     = !anytrue([for marker in ["PRIVATE KEY", "private_key", "refresh_token", "client_secret"] : strcontains(each.value, marker)])
      error_message = "A keyless descriptor names the DWD service account only; it never holds key material."
    }
  }
}

resource "google_secret_manager_secret_iam_member" "credentials_accessor" {
  for_each = local.secret_readers.credentials

  project   = var.project_id
  secret_id = google_secret_manager_secret.credentials.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "sharing_credentials_accessor" {
  for_each = local.secret_readers.sharing_credentials

  project   = var.project_id
  secret_id = google_secret_manager_secret.sharing_credentials.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "token_key_accessor" {
  for_each = local.secret_readers.token_key

  project   = var.project_id
  secret_id = google_secret_manager_secret.token_key.secret_id
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

# Keyless DWD: each function signs the delegation JWT as its own DWD service account through the IAM Credentials
# API (google-auth's iam.Signer calls signBlob). Granted on that one service account, never on the project, and
# only to the functions that use it: booking and sync on the booking/sync account, sharing on its own.
resource "google_service_account_iam_member" "keyless_token_creator" {
  for_each = var.keyless_dwd ? local.secret_readers.credentials : toset([])

  service_account_id = google_service_account.dwd.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

resource "google_service_account_iam_member" "keyless_sharing_token_creator" {
  for_each = var.keyless_dwd ? local.secret_readers.sharing_credentials : toset([])

  service_account_id = google_service_account.dwd_sharing.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.runtime[each.key].email}"
}
