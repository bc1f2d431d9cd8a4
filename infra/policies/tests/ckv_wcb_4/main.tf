# CKV_WCB_4: allUsers / allAuthenticatedUsers may invoke only the booking function.

resource "google_cloudfunctions2_function" "booking" {
  name     = "wcb-booking"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    max_instance_count = 3
  }
}

resource "google_cloudfunctions2_function" "sharing" {
  name     = "wcb-sharing"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "sharing"
  }
  service_config {
    max_instance_count = 3
  }
}

resource "google_cloud_run_v2_service_iam_member" "bad_sharing_public" {
  location = "europe-west1"
  name     = google_cloudfunctions2_function.sharing.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_binding" "bad_sync_all_authenticated" {
  location = "europe-west1"
  service  = "wcb-sync"
  role     = "roles/run.invoker"
  members  = ["user:admin@example.com", "allAuthenticatedUsers"]
}

resource "google_cloudfunctions2_function_iam_member" "bad_sharing_gcf_iam" {
  location       = "europe-west1"
  cloud_function = google_cloudfunctions2_function.sharing.name
  role           = "roles/cloudfunctions.invoker"
  member         = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "bad_booking_admin_role" {
  location = "europe-west1"
  name     = google_cloudfunctions2_function.booking.service_config[0].service
  role     = "roles/run.admin"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "bad_booking_lookalike" {
  location = "europe-west1"
  name     = "wcb-booking-admin"
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "good_booking_public" {
  location = "europe-west1"
  name     = google_cloudfunctions2_function.booking.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "good_booking_by_name" {
  location = "europe-west1"
  name     = "projects/demo-project/locations/europe-west1/services/wcb-booking"
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "good_sharing_admin" {
  location = "europe-west1"
  name     = google_cloudfunctions2_function.sharing.service_config[0].service
  role     = "roles/run.invoker"
  member   = "user:admin@example.com"
}
