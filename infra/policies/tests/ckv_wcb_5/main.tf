# CKV_WCB_5: every Cloud Function caps its instances.

variable "booking_max_instances" {
  type        = number
  description = "Instance cap passed through a variable."
  default     = 10
}

resource "google_cloudfunctions2_function" "bad_no_cap" {
  name     = "bad-no-cap"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    available_memory = "256Mi"
  }
}

resource "google_cloudfunctions2_function" "bad_no_service_config" {
  name     = "bad-no-service-config"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
}

resource "google_cloudfunctions2_function" "bad_zero_cap" {
  name     = "bad-zero-cap"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    max_instance_count = 0
  }
}

resource "google_cloudfunctions_function" "bad_gen1_no_cap" {
  name        = "bad-gen1-no-cap"
  runtime     = "python312"
  entry_point = "booking"
}

resource "google_cloudfunctions2_function" "good_cap_from_variable" {
  name     = "good-cap-from-variable"
  location = "europe-west1"
  build_config {
    runtime     = "python312"
    entry_point = "booking"
  }
  service_config {
    max_instance_count = var.booking_max_instances
  }
}

resource "google_cloudfunctions_function" "good_gen1_cap" {
  name          = "good-gen1-cap"
  runtime       = "python312"
  entry_point   = "booking"
  max_instances = 5
}
