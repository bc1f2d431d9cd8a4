# Buckets: the function bundles (sources) and the availability snapshot the sync writes and booking reads.
# Both private by construction: uniform bucket-level access (no object ACLs), public access prevention
# enforced, versioning on (a bad snapshot or bundle can be restored), old versions expire, optional CMEK.

data "google_storage_project_service_account" "gcs" {
  count   = var.storage_kms_key_name == null ? 0 : 1
  project = var.project_id
}

# CMEK: Cloud Storage encrypts with the key as the project's storage service agent.
resource "google_kms_crypto_key_iam_member" "storage_cmek" {
  count = var.storage_kms_key_name == null ? 0 : 1

  crypto_key_id = var.storage_kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.gcs[0].email_address}"
}

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Usage-log buckets are legacy; reads and writes of these objects are recorded by Cloud Audit Logs (Data Access logs for storage.googleapis.com), enabled at project or org level.
  name                        = local.source_bucket_name
  project                     = var.project_id
  location                    = local.bucket_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy_buckets
  labels                      = local.labels

  versioning {
    enabled = true
  }

  dynamic "encryption" {
    for_each = var.storage_kms_key_name == null ? [] : [var.storage_kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this, google_kms_crypto_key_iam_member.storage_cmek]
}

resource "google_storage_bucket" "snapshots" {
  #checkov:skip=CKV_GCP_62:Usage-log buckets are legacy; reads and writes of the snapshot are recorded by Cloud Audit Logs (Data Access logs for storage.googleapis.com), enabled at project or org level.
  name                        = local.snapshot_bucket_name
  project                     = var.project_id
  location                    = local.bucket_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy_buckets
  labels                      = local.labels

  versioning {
    enabled = true
  }

  dynamic "encryption" {
    for_each = var.storage_kms_key_name == null ? [] : [var.storage_kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  # The snapshot is rewritten on every sync (every 10 minutes by default): keep a few recent versions only.
  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this, google_kms_crypto_key_iam_member.storage_cmek]
}

# One object per function bundle, named by the SHA-256 of its content: a changed bundle is a new object name,
# which is what makes Terraform redeploy (and an unchanged one does not). Bundles come from `make package`.
resource "google_storage_bucket_object" "bundle" {
  for_each = local.function_names

  bucket       = google_storage_bucket.sources.name
  name         = "${each.key}/${lookup(var.bundle_sha256, each.key, filesha256("${local.bundle_dir}/${each.key}.zip"))}.zip"
  source       = "${local.bundle_dir}/${each.key}.zip"
  content_type = "application/zip"

  lifecycle {
    create_before_destroy = true
  }
}

# Who may touch the snapshot: sync writes (and overwrites) it, booking reads it, sharing never does.
resource "google_storage_bucket_iam_member" "snapshot_writer" {
  bucket = google_storage_bucket.snapshots.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.runtime["sync"].email}"
}

resource "google_storage_bucket_iam_member" "snapshot_reader" {
  bucket = google_storage_bucket.snapshots.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.runtime["booking"].email}"
}
