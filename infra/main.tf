# Names and shared values. Each concern has its own file: apis, service_accounts, secrets, storage, config,
# functions, iam, scheduler.

locals {
  # The three functions. Entry points are the function names exported by functions/<name>/main.py.
  function_names = toset(["booking", "sharing", "sync"])

  labels = merge(var.labels, {
    app        = "workspace-calendar-booking"
    deployment = var.name_prefix
  })

  credentials_secret_id = coalesce(var.credentials_secret_id, "${var.name_prefix}-calendar-credentials")
  source_bucket_name    = coalesce(var.source_bucket_name, "${var.project_id}-${var.name_prefix}-sources")
  snapshot_bucket_name  = coalesce(var.snapshot_bucket_name, "${var.project_id}-${var.name_prefix}-snapshots")
  bucket_location       = coalesce(var.bucket_location, var.region)
  bundle_dir            = coalesce(var.bundle_dir, "${path.module}/../dist")

  sharing_credentials_secret_id = "${var.name_prefix}-sharing-credentials"
  token_key_secret_id           = "${var.name_prefix}-booking-token-key"

  # The scopes each DWD service account's client id must be granted in the Admin console (Security > API
  # controls > Domain-wide delegation). Exactly these, nothing more (DESIGN section 3): two clients, so that no
  # function can reach a scope it does not need.
  dwd_scopes = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
  ]
  sharing_dwd_scopes = [
    "https://www.googleapis.com/auth/calendar.acls",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
  ]
}
