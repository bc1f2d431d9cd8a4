# Identities. One runtime service account per function (least privilege: each gets only what its function
# uses), two domain-wide delegation (DWD) service accounts whose client ids the Workspace admin authorises
# (booking and sync: calendar.events + calendar.freebusy; sharing: calendar.acls + calendar.calendarlist.readonly),
# and the identity Cloud Scheduler signs its OIDC token with.
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

# Least privilege: sharing has a delegation client of its own, granted calendar.acls and
# calendar.calendarlist.readonly only, so the public booking function can never reach an ACL.
resource "google_service_account" "dwd_sharing" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-dwd-acl"
  display_name = "${var.name_prefix} calendar sharing domain-wide delegation"
  description  = "Acts as Workspace users on calendar ACLs (sharing function only) through domain-wide delegation. Its unique id is the second client id granted in the Admin console. Holds no project roles."

  depends_on = [google_project_service.this]
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "${var.name_prefix} sync scheduler"
  description  = "Identity of the Cloud Scheduler job that calls the sync function (OIDC token)."

  depends_on = [google_project_service.this]
}
