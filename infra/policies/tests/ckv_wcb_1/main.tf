# CKV_WCB_1: Secret Manager payload access only at secret level.

resource "google_project_iam_member" "bad_project_accessor" {
  project = "demo-project"
  role    = "roles/secretmanager.secretAccessor"
  member  = "serviceAccount:fn@demo-project.iam.gserviceaccount.com"
}

resource "google_project_iam_binding" "bad_project_binding" {
  project = "demo-project"
  role    = "roles/secretmanager.secretAccessor"
  members = ["serviceAccount:fn@demo-project.iam.gserviceaccount.com"]
}

resource "google_folder_iam_member" "bad_folder_admin" {
  folder = "folders/123"
  role   = "roles/secretmanager.admin"
  member = "group:ops@example.com"
}

resource "google_secret_manager_secret_iam_member" "good_secret_level" {
  project   = "demo-project"
  secret_id = "calendar-credentials"
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:fn@demo-project.iam.gserviceaccount.com"
}

resource "google_project_iam_member" "good_other_role" {
  project = "demo-project"
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:fn@demo-project.iam.gserviceaccount.com"
}
