# Outputs. The README's "Outputs" table lists them.

output "booking_url" {
  description = "HTTPS URL of the public booking function; point the website's frontend at it."
  value       = google_cloudfunctions2_function.booking.service_config[0].uri
}

output "sharing_url" {
  description = "HTTPS URL of the sharing function (IAM-only: call with an ID token of one of sharing_admins)."
  value       = google_cloudfunctions2_function.sharing.service_config[0].uri
}

output "sync_url" {
  description = "HTTPS URL of the sync function (IAM-only: the scheduler service account invokes it)."
  value       = google_cloudfunctions2_function.sync.service_config[0].uri
}

output "function_urls" {
  description = "Map of function name (booking, sharing, sync) to its HTTPS URL."
  value = {
    booking = google_cloudfunctions2_function.booking.service_config[0].uri
    sharing = google_cloudfunctions2_function.sharing.service_config[0].uri
    sync    = google_cloudfunctions2_function.sync.service_config[0].uri
  }
}

output "dwd_client_id" {
  description = "Client ID (the booking/sync DWD service account's unique id) to authorise in the Admin console: Security > Access and data control > API controls > Domain-wide delegation > Add new."
  value       = google_service_account.dwd.unique_id
}

output "dwd_scopes" {
  description = "The exact OAuth scopes to grant that client id (booking and sync) in the Admin console, comma-joined as the console expects."
  value       = join(",", local.dwd_scopes)
}

output "dwd_service_account_email" {
  description = "Email of the booking/sync DWD service account (keyless_dwd: nothing to do; else create its key out of band)."
  value       = google_service_account.dwd.email
}

output "sharing_dwd_client_id" {
  description = "Client ID of sharing's own DWD service account, to authorise in the Admin console as a second entry."
  value       = google_service_account.dwd_sharing.unique_id
}

output "sharing_dwd_scopes" {
  description = "The exact OAuth scopes to grant sharing's client id in the Admin console, comma-joined."
  value       = join(",", local.sharing_dwd_scopes)
}

output "sharing_dwd_service_account_email" {
  description = "Email of sharing's DWD service account."
  value       = google_service_account.dwd_sharing.email
}

output "sharing_credentials_secret" {
  description = "Resource name of sharing's credentials secret (keyless_dwd: Terraform fills it; else add sharing's key JSON)."
  value       = google_secret_manager_secret.sharing_credentials.id
}

output "token_key_secret" {
  description = "Resource name of the booking-token key secret: add 32+ random bytes as a version out of band (docs/DEPLOY.md)."
  value       = google_secret_manager_secret.token_key.id
}

output "credentials_secret" {
  description = "Resource name of the booking/sync credentials secret (projects/P/secrets/S). keyless_dwd: Terraform fills it; else add the key JSON as a version out of band."
  value       = google_secret_manager_secret.credentials.id
}

output "credentials_secret_version" {
  description = "The version name the functions read (their CREDENTIALS_SECRET)."
  value       = local.credentials_secret_version_name
}

output "config_secret" {
  description = "Resource name of the secret holding the rendered booking config mounted into the functions."
  value       = google_secret_manager_secret.config.id
}

output "snapshot_bucket" {
  description = "Name of the bucket holding the availability snapshot."
  value       = google_storage_bucket.snapshots.name
}

output "source_bucket" {
  description = "Name of the bucket holding the function bundles."
  value       = google_storage_bucket.sources.name
}

output "runtime_service_accounts" {
  description = "Map of function name to the email of its runtime service account."
  value       = { for name, sa in google_service_account.runtime : name => sa.email }
}

output "scheduler_service_account" {
  description = "Email of the service account Cloud Scheduler calls the sync function as (the config's scheduler identity)."
  value       = google_service_account.scheduler.email
}

output "scheduler_job" {
  description = "ID of the Cloud Scheduler job that runs the sync."
  value       = google_cloud_scheduler_job.sync.id
}
