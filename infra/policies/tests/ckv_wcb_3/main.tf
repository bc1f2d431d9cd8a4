# CKV_WCB_3: Cloud Scheduler HTTP targets send an OIDC token and set attempt_deadline.

resource "google_cloud_scheduler_job" "bad_no_token" {
  name             = "bad-no-token"
  schedule         = "*/10 * * * *"
  attempt_deadline = "240s"
  http_target {
    http_method = "POST"
    uri         = "https://sync-abc-ew.a.run.app/"
  }
}

resource "google_cloud_scheduler_job" "bad_oauth_token" {
  name             = "bad-oauth-token"
  schedule         = "*/10 * * * *"
  attempt_deadline = "240s"
  http_target {
    http_method = "POST"
    uri         = "https://sync-abc-ew.a.run.app/"
    oauth_token {
      service_account_email = "scheduler@demo-project.iam.gserviceaccount.com"
    }
  }
}

resource "google_cloud_scheduler_job" "bad_no_deadline" {
  name     = "bad-no-deadline"
  schedule = "*/10 * * * *"
  http_target {
    http_method = "POST"
    uri         = "https://sync-abc-ew.a.run.app/"
    oidc_token {
      service_account_email = "scheduler@demo-project.iam.gserviceaccount.com"
      audience              = "https://sync-abc-ew.a.run.app/"
    }
  }
}

resource "google_cloud_scheduler_job" "bad_no_audience" {
  name             = "bad-no-audience"
  schedule         = "*/10 * * * *"
  attempt_deadline = "240s"
  http_target {
    http_method = "POST"
    uri         = "https://sync-abc-ew.a.run.app/"
    oidc_token {
      service_account_email = "scheduler@demo-project.iam.gserviceaccount.com"
    }
  }
}

resource "google_cloud_scheduler_job" "bad_deadline_too_long" {
  name             = "bad-deadline-too-long"
  schedule         = "*/10 * * * *"
  attempt_deadline = "3600s"
  http_target {
    http_method = "POST"
    uri         = "https://sync-abc-ew.a.run.app/"
    oidc_token {
      service_account_email = "scheduler@demo-project.iam.gserviceaccount.com"
      audience              = "https://sync-abc-ew.a.run.app/"
    }
  }
}

resource "google_cloud_scheduler_job" "good_oidc" {
  name             = "good-oidc"
  schedule         = "*/10 * * * *"
  attempt_deadline = "240s"
  http_target {
    http_method = "POST"
    uri         = "https://sync-abc-ew.a.run.app/"
    oidc_token {
      service_account_email = "scheduler@demo-project.iam.gserviceaccount.com"
      audience              = "https://sync-abc-ew.a.run.app/"
    }
  }
}

resource "google_cloud_scheduler_job" "good_pubsub_target" {
  name     = "good-pubsub-target"
  schedule = "*/10 * * * *"
  pubsub_target {
    topic_name = "projects/demo-project/topics/sync"
    data       = "e30="
  }
}
