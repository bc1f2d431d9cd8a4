# The three gen2 functions (DESIGN section 9). Each is built by Cloud Build from its own bundle (main.py +
# shared/ + requirements.txt, made by `make package`), runs as its own service account, caps its instances
# (max_instance_count on every function: the bound on cost and on Google quota), and reads its configuration
# from the mounted config secret (config.tf) and the secrets it alone may read from its environment (config.tf, secrets.tf).

resource "google_cloudfunctions2_function" "booking" {
  #checkov:skip=CKV_GCP_124:The booking API is the public endpoint that website frontends call from browsers (DESIGN section 4); it cannot sit behind internal-only ingress. Abuse is bounded by max_instance_count and the function's own validation.
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-booking"
  description = "Public booking API: calendars, slots, bookings (workspace-calendar-booking)."
  labels      = local.labels

  build_config {
    runtime         = "python312"
    entry_point     = "booking"
    service_account = var.build_service_account == null ? null : "projects/${var.project_id}/serviceAccounts/${var.build_service_account}"

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.bundle["booking"].name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.runtime["booking"].email
    max_instance_count             = var.booking_max_instances
    min_instance_count             = var.booking_min_instances
    available_memory               = var.function_memory
    timeout_seconds                = var.booking_timeout_seconds
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    environment_variables          = local.function_env["booking"]

    secret_volumes {
      mount_path = local.config_mount_path
      project_id = var.project_id
      secret     = google_secret_manager_secret.config.secret_id

      versions {
        version = google_secret_manager_secret_version.config.version
        path    = local.config_file_name
      }
    }
  }

  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.credentials_accessor,
    google_secret_manager_secret_iam_member.token_key_accessor,
    google_secret_manager_secret_iam_member.config_accessor,
    google_service_account_iam_member.keyless_token_creator,
    google_storage_bucket_iam_member.snapshot_reader,
  ]
}

resource "google_cloudfunctions2_function" "sharing" {
  #checkov:skip=CKV_GCP_124:Admins call the sharing function from their own machines, outside any VPC; it is IAM-only (roles/run.invoker for var.sharing_admins alone) and checks its admin allow-list. Set var.sharing_ingress to restrict further.
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-sharing"
  description = "Admin-only calendar sharing (ACL) API (workspace-calendar-booking). IAM invokers only."
  labels      = local.labels

  build_config {
    runtime         = "python312"
    entry_point     = "sharing"
    service_account = var.build_service_account == null ? null : "projects/${var.project_id}/serviceAccounts/${var.build_service_account}"

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.bundle["sharing"].name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.runtime["sharing"].email
    max_instance_count             = var.sharing_max_instances
    min_instance_count             = 0
    available_memory               = var.function_memory
    timeout_seconds                = var.sharing_timeout_seconds
    ingress_settings               = var.sharing_ingress
    all_traffic_on_latest_revision = true
    environment_variables          = local.function_env["sharing"]

    secret_volumes {
      mount_path = local.config_mount_path
      project_id = var.project_id
      secret     = google_secret_manager_secret.config.secret_id

      versions {
        version = google_secret_manager_secret_version.config.version
        path    = local.config_file_name
      }
    }
  }

  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.sharing_credentials_accessor,
    google_secret_manager_secret_iam_member.config_accessor,
    google_service_account_iam_member.keyless_sharing_token_creator,
  ]
}

resource "google_cloudfunctions2_function" "sync" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-sync"
  description = "Scheduled free/busy snapshot refresh (workspace-calendar-booking). Invoked by Cloud Scheduler only."
  labels      = local.labels

  build_config {
    runtime         = "python312"
    entry_point     = "sync"
    service_account = var.build_service_account == null ? null : "projects/${var.project_id}/serviceAccounts/${var.build_service_account}"

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.bundle["sync"].name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.runtime["sync"].email
    # One sync at a time: overlapping runs would only race to write the same snapshot.
    max_instance_count             = 1
    min_instance_count             = 0
    available_memory               = var.function_memory
    timeout_seconds                = var.sync_timeout_seconds
    ingress_settings               = var.sync_ingress
    all_traffic_on_latest_revision = true
    environment_variables          = local.function_env["sync"]

    secret_volumes {
      mount_path = local.config_mount_path
      project_id = var.project_id
      secret     = google_secret_manager_secret.config.secret_id

      versions {
        version = google_secret_manager_secret_version.config.version
        path    = local.config_file_name
      }
    }
  }

  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.credentials_accessor,
    google_secret_manager_secret_iam_member.config_accessor,
    google_service_account_iam_member.keyless_token_creator,
    google_storage_bucket_iam_member.snapshot_writer,
  ]
}
