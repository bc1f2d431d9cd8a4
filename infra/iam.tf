# Who may invoke each function. Gen2 functions are Cloud Run services, so invocation is roles/run.invoker on
# the function's service (roles/cloudfunctions.invoker does not cover gen2 HTTP calls).
#
#   booking  public: allUsers (the website's visitors are anonymous)
#   sharing  the admins in var.sharing_admins only
#   sync     the scheduler service account only
#
# The custom checkov policy CKV_WCB_4 (infra/policies) fails any allUsers / allAuthenticatedUsers grant on
# anything but the booking function.

resource "google_cloud_run_v2_service_iam_member" "booking_public" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.booking.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "sharing_admins" {
  for_each = toset(var.sharing_admins)

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.sharing.service_config[0].service
  role     = "roles/run.invoker"
  member   = endswith(each.value, ".gserviceaccount.com") ? "serviceAccount:${each.value}" : "user:${each.value}"
}

resource "google_cloud_run_v2_service_iam_member" "sync_scheduler" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.sync.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}
