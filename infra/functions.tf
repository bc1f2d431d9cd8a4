# The three gen2 functions (DESIGN section 9), one resource over local.functions. Each is built by Cloud Build
# from its own bundle (main.py + shared/ + requirements.txt, made by `make package`), runs as its own service
# account, caps its instances (max_instance_count on every function: the bound on cost and on Google quota), and
# reads its configuration from the mounted config secret (config.tf) and the secrets it alone may read from its
# environment (config.tf, secrets.tf).

locals {
  # What differs between the functions; all else is the same.
  function_settings = {
    booking = {
      description     = "Public booking API: calendars, slots, bookings (workspace-calendar-booking)."
      max_instances   = var.booking_max_instances
      min_instances   = var.booking_min_instances
      timeout_seconds = var.booking_timeout_seconds
      ingress         = local.booking_ingress # ALLOW_ALL, or only through the load balancer (edge.tf)
      # One instance serves many visitors: a booking spends ~100 ms waiting on Google and ~2 ms of CPU, a
      # snapshot GET /slots ~2 ms of CPU (infra/README.md, "Concurrency and CPU").
      concurrency = 80
      cpu         = "1"
    }
    sharing = {
      description     = "Admin-only calendar sharing (ACL) API (workspace-calendar-booking). IAM invokers only."
      max_instances   = var.sharing_max_instances
      min_instances   = 0
      timeout_seconds = var.sharing_timeout_seconds
      ingress         = var.sharing_ingress
      # Admin traffic: a few calls at a time, each mostly waiting on Google.
      concurrency = 10
      cpu         = "1"
    }
    sync = {
      description = "Scheduled free/busy snapshot refresh (workspace-calendar-booking). Invoked by Cloud Scheduler only."
      # One sync at a time: overlapping runs would only race to write the same snapshot.
      max_instances   = 1
      min_instances   = 0
      timeout_seconds = var.sync_timeout_seconds
      ingress         = var.sync_ingress
      # One run at a time (it parallelises its own free/busy queries); a second request would only race it.
      concurrency = 1
      cpu         = "1"
    }
  }
  # One object type for all entries: one missing a setting, or with a setting of another kind, fails the plan.
  functions = tomap(local.function_settings)
}

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:booking is the public endpoint that website frontends call from browsers (DESIGN section 4), so it cannot sit behind internal-only ingress; abuse is bounded by max_instance_count and its validation. Admins call sharing from their own machines, outside any VPC; it is IAM-only (roles/run.invoker for var.sharing_admins alone) and checks its allow-list; var.sharing_ingress restricts it further. sync defaults to internal-only (var.sync_ingress).
  for_each = local.functions

  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-${each.key}"
  description = each.value.description
  labels      = local.labels

  build_config {
    runtime         = "python312"
    entry_point     = each.key
    service_account = var.build_service_account == null ? null : "projects/${var.project_id}/serviceAccounts/${var.build_service_account}"

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.bundle[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.runtime[each.key].email
    max_instance_count               = each.value.max_instances
    min_instance_count               = each.value.min_instances
    available_memory                 = var.function_memory
    available_cpu                    = each.value.cpu
    max_instance_request_concurrency = each.value.concurrency
    timeout_seconds                  = each.value.timeout_seconds
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    environment_variables            = local.function_env[each.key]

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

  # The grants each function needs before its first start, for all three (depends_on cannot vary per instance):
  # its secrets, its Token Creator grant (keyless), and the snapshot access of booking and sync.
  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.credentials_accessor,
    google_secret_manager_secret_iam_member.sharing_credentials_accessor,
    google_secret_manager_secret_iam_member.token_key_accessor,
    google_secret_manager_secret_iam_member.config_accessor,
    google_service_account_iam_member.keyless_token_creator,
    google_service_account_iam_member.keyless_sharing_token_creator,
    google_storage_bucket_iam_member.snapshot_reader,
    google_storage_bucket_iam_member.snapshot_writer,
  ]
}

# Deployments made when each function was a resource of its own keep them: moved, not destroyed and recreated.
moved {
  from = google_cloudfunctions2_function.booking
  to   = google_cloudfunctions2_function.function["booking"]
}

moved {
  from = google_cloudfunctions2_function.sharing
  to   = google_cloudfunctions2_function.function["sharing"]
}

moved {
  from = google_cloudfunctions2_function.sync
  to   = google_cloudfunctions2_function.function["sync"]
}
