output "booking_url" {
  description = "URL the website's booking frontend calls."
  value       = module.calendar_booking.booking_url
}

output "sharing_url" {
  description = "URL of the admin-only sharing function."
  value       = module.calendar_booking.sharing_url
}

output "dwd_client_id" {
  description = "Client ID to authorise for domain-wide delegation in the Admin console."
  value       = module.calendar_booking.dwd_client_id
}

output "dwd_scopes" {
  description = "Scopes to grant that client ID, comma-joined."
  value       = module.calendar_booking.dwd_scopes
}

output "sharing_dwd_client_id" {
  description = "Sharing's own client ID to authorise in the Admin console (a second entry)."
  value       = module.calendar_booking.sharing_dwd_client_id
}

output "sharing_dwd_scopes" {
  description = "Scopes to grant sharing's client ID, comma-joined."
  value       = module.calendar_booking.sharing_dwd_scopes
}

output "token_key_secret" {
  description = "Secret to add the booking-token key (32+ random bytes) to."
  value       = module.calendar_booking.token_key_secret
}

output "credentials_secret" {
  description = "Secret to add the credentials JSON to (gcloud secrets versions add)."
  value       = module.calendar_booking.credentials_secret
}

output "credentials_secret_version" {
  description = "The secret version the functions read (set it with credentials_secret_version)."
  value       = module.calendar_booking.credentials_secret_version
}

output "dwd_service_account_email" {
  description = "The service account that acts as employees through domain-wide delegation."
  value       = module.calendar_booking.dwd_service_account_email
}

output "sync_url" {
  description = "URL of the sync function Cloud Scheduler calls."
  value       = module.calendar_booking.sync_url
}
