# The scheduled sync (DESIGN section 9): Cloud Scheduler POSTs to the sync function with an OIDC ID token
# minted for the scheduler service account, audience = the sync function's URL (what Cloud Run checks).
# attempt_deadline stays within the function's timeout, so Scheduler never gives up on (and retries) an
# attempt the function is still allowed to be working on.

resource "google_cloud_scheduler_job" "sync" {
  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-sync"
  description      = "Refreshes the availability snapshot (workspace-calendar-booking)."
  schedule         = var.sync_schedule
  time_zone        = var.sync_time_zone
  paused           = var.sync_paused
  attempt_deadline = "${var.scheduler_attempt_deadline_seconds}s"

  retry_config {
    retry_count          = var.scheduler_retry_count
    min_backoff_duration = "10s"
    max_backoff_duration = "120s"
    max_doublings        = 3
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.function["sync"].service_config[0].uri
    body        = base64encode("{}")
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.sync_audience # what the sync function's config accepts (sync.audiences)
    }
  }

  lifecycle {
    precondition {
      condition     = var.scheduler_attempt_deadline_seconds <= var.sync_timeout_seconds
      error_message = "scheduler_attempt_deadline_seconds must not exceed sync_timeout_seconds: Scheduler would retry attempts the function is still running."
    }
  }

  depends_on = [google_project_service.this, google_cloud_run_v2_service_iam_member.invoker]
}
