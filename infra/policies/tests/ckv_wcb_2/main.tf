# CKV_WCB_2: functions read a pinned secret version, never latest.

variable "credentials_version" {
  type        = string
  description = "A production variable defaulting to latest: the value reaches the function's env."
  default     = "latest"
}

resource "google_cloudfunctions2_function" "bad_env_from_variable" {
  name     = "bad-env-from-variable"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    max_instance_count = 3
    environment_variables = {
      CREDENTIALS_SECRET = "projects/demo-project/secrets/calendar-credentials/versions/${var.credentials_version}"
    }
  }
}

resource "google_cloudfunctions2_function" "bad_env_literal" {
  name     = "bad-env-literal"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    max_instance_count = 3
    environment_variables = {
      BOOKING_CONFIG     = "/etc/booking-config/booking.toml"
      CREDENTIALS_SECRET = "projects/demo-project/secrets/calendar-credentials/versions/latest"
    }
  }
}

resource "google_cloudfunctions2_function" "bad_secret_env_latest" {
  name     = "bad-secret-env-latest"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    max_instance_count = 3
    secret_environment_variables {
      key        = "TOKEN"
      project_id = "demo-project"
      secret     = "token"
      version    = "latest"
    }
  }
}

resource "google_cloudfunctions2_function" "bad_volume_without_versions" {
  name     = "bad-volume-without-versions"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    max_instance_count = 3
    secret_volumes {
      mount_path = "/etc/booking-config"
      project_id = "demo-project"
      secret     = "booking-config"
    }
  }
}

resource "google_cloudfunctions_function" "bad_gen1_env" {
  name          = "bad-gen1-env"
  runtime       = "python312"
  entry_point   = "booking"
  max_instances = 3
  environment_variables = {
    CREDENTIALS_SECRET = "projects/demo-project/secrets/calendar-credentials/versions/latest"
  }
}

resource "google_cloudfunctions2_function" "good_pinned" {
  name     = "good-pinned"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    max_instance_count = 3
    environment_variables = {
      BOOKING_CONFIG     = "/etc/booking-config/booking.toml"
      CREDENTIALS_SECRET = "projects/demo-project/secrets/calendar-credentials/versions/7"
    }
    secret_volumes {
      mount_path = "/etc/booking-config"
      project_id = "demo-project"
      secret     = "booking-config"
      versions {
        version = "2"
        path    = "booking.toml"
      }
    }
  }
}
