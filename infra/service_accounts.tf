# Identities. One runtime service account per function (least privilege: each gets only what its function
# uses), the domain-wide delegation (DWD) service account whose client id the Workspace admin authorises, and
# the identity Cloud Scheduler signs its OIDC token with.
#
# No google_service_account_key here, ever: a key created by Terraform would sit in the state. The DWD key is
# created and uploaded to the credentials secret out of band (README), or not at all with keyless_dwd.

resource "google_service_account" "runtime" {
  for_each = local.function_names

  project      = var.project_id
  account_id   = "${var.name_prefix}-${each.key}"
  display_name = "${var.name_prefix} ${each.key} function runtime"
  description  = "Runtime identity of the ${each.key} Cloud Function (workspace-calendar-booking)."

  depends_on = [google_project_service.this]
}

resource "google_service_account" "dwd" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-dwd"
  display_name = "${var.name_prefix} calendar domain-wide delegation"
  description  = "Acts as Workspace users on Google Calendar through domain-wide delegation. Its unique id is the client id granted in the Admin console. Holds no project roles."

  depends_on = [google_project_service.this]
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "${var.name_prefix} sync scheduler"
  description  = "Identity of the Cloud Scheduler job that calls the sync function (OIDC token)."

  depends_on = [google_project_service.this]
}
