# Inputs of the module. Every variable is typed and described; the README's "Inputs" table lists them.
# Validations only refer to their own variable (Terraform >= 1.5); rules that compare two variables are
# lifecycle preconditions on the resource they protect (secrets.tf, scheduler.tf).

# --- Project -------------------------------------------------------------------------------------------------

variable "project_id" {
  type        = string
  description = "ID of the Google Cloud project to deploy into (not the project number)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "Region for the functions, the scheduler job and (unless bucket_location is set) the buckets, e.g. europe-west1."
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west1."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (functions, service accounts, secrets, buckets, scheduler job). Lets several deployments share one project."
  default     = "wcb"

  validation {
    # The longest derived service account id is "<prefix>-scheduler", and account ids are 6-30 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-20 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "environment" {
  type        = string
  description = "Deployment stage: production, staging or development. In production the credentials secret version must be pinned (not \"latest\")."
  default     = "production"

  validation {
    condition     = contains(["production", "staging", "development"], var.environment)
    error_message = "environment must be one of production, staging, development."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to every resource that takes labels (functions, buckets, secrets)."
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "Label keys must start with a lowercase letter; keys and values may hold lowercase letters, digits, _ and - (at most 63)."
  }
}

variable "enable_apis" {
  type        = bool
  description = "Enable the Google APIs the module needs (google_project_service). Set false when the project factory already enables them."
  default     = true
}

# --- Function bundles ----------------------------------------------------------------------------------------

variable "bundle_dir" {
  type        = string
  description = "Directory holding booking.zip, sharing.zip and sync.zip as built by `make package`. Null means the repository's dist/ next to this module."
  default     = null
}

variable "bundle_sha256" {
  type        = map(string)
  description = "Optional SHA-256 (hex) of each bundle, keyed by function name (booking, sharing, sync). When given it names the uploaded object instead of filesha256() of the zip, e.g. when CI computed it already."
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.bundle_sha256 : contains(["booking", "sharing", "sync"], k) && can(regex("^[0-9a-f]{64}$", v))
    ])
    error_message = "bundle_sha256 keys must be booking, sharing or sync and values 64 lowercase hex digits."
  }
}

variable "build_service_account" {
  type        = string
  description = "Email of the service account Cloud Build uses to build the functions. Null uses the project's default build service account (which in projects created after mid-2024 may lack the roles; see the README)."
  default     = null

  validation {
    condition     = var.build_service_account == null ? true : can(regex("^[a-z0-9-]+@[a-z0-9-]+\\.iam\\.gserviceaccount\\.com$", var.build_service_account))
    error_message = "build_service_account must be a service account email (…@PROJECT.iam.gserviceaccount.com)."
  }
}

# --- Credentials ---------------------------------------------------------------------------------------------

variable "credentials_secret_id" {
  type        = string
  description = "Secret Manager secret id of the Google credentials JSON (key of the DWD service account, or an authorized_user grant). Null means \"<name_prefix>-calendar-credentials\". Only the container is created; the payload is added out of band."
  default     = null

  validation {
    condition     = var.credentials_secret_id == null ? true : can(regex("^[A-Za-z0-9_-]{1,255}$", var.credentials_secret_id))
    error_message = "credentials_secret_id may hold letters, digits, _ and - (1-255 characters)."
  }
}

variable "credentials_secret_version" {
  type        = string
  description = "Version of the credentials secret the functions read (CREDENTIALS_SECRET). Pin a number; \"latest\" is refused when environment is production, so a key rotation is a reviewed change."
  default     = "1"

  validation {
    condition     = can(regex("^([1-9][0-9]*|latest)$", var.credentials_secret_version))
    error_message = "credentials_secret_version must be a positive version number (or \"latest\" outside production)."
  }
}

variable "sharing_credentials_secret_version" {
  type        = string
  description = "Version of sharing's credentials secret (the key of the sharing DWD service account) the sharing function reads (SHARING_CREDENTIALS_SECRET). Ignored with keyless_dwd. Pin a number; \"latest\" is refused in production."
  default     = "1"

  validation {
    condition     = can(regex("^([1-9][0-9]*|latest)$", var.sharing_credentials_secret_version))
    error_message = "sharing_credentials_secret_version must be a positive version number (or \"latest\" outside production)."
  }
}

variable "token_key_secret_version" {
  type        = string
  description = "Version of the booking-token key secret (32+ random bytes, added out of band) the booking function reads (TOKEN_KEY_SECRET). Pin a number; \"latest\" is refused in production."
  default     = "1"

  validation {
    condition     = can(regex("^([1-9][0-9]*|latest)$", var.token_key_secret_version))
    error_message = "token_key_secret_version must be a positive version number (or \"latest\" outside production)."
  }
}

variable "keyless_dwd" {
  type        = bool
  description = "Keyless domain-wide delegation, recommended (and the only way where iam.disableServiceAccountKeyCreation is enforced): no service account key exists. Terraform writes each credentials secret's version itself, a descriptor naming the DWD service account (nothing secret), and grants each function's runtime service account roles/iam.serviceAccountTokenCreator on its own DWD service account only, so it signs the delegation JWT through the IAM Credentials API. credentials_secret_version and sharing_credentials_secret_version are then ignored. false: upload a key JSON to each credentials secret."
  default     = false
}

# --- Configuration -------------------------------------------------------------------------------------------

variable "booking_config_template" {
  type        = string
  description = "Path of the booking TOML config template (see examples/basic/booking.toml.tftpl). Rendered with templatefile() and the deployment's values (sharing_admins, allowed_origins, scheduler_identity, snapshot_bucket, ...), stored as the config secret and mounted into every function at BOOKING_CONFIG."

  validation {
    condition     = fileexists(var.booking_config_template)
    error_message = "booking_config_template must be the path of an existing file."
  }
}

variable "allowed_origins" {
  type        = list(string)
  description = "Origins allowed to call the booking function from a browser (CORS), e.g. [\"https://www.example.com\"]. Passed to the config template."
  default     = []

  validation {
    condition = alltrue([
      for o in var.allowed_origins :
      can(regex("^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", o)) || can(regex("^http://(localhost|127\\.0\\.0\\.1)(:[0-9]{1,5})?$", o))
    ])
    error_message = "Each origin must be scheme://host[:port] with no path: https, or http only for localhost / 127.0.0.1."
  }
}

variable "sharing_admins" {
  type        = list(string)
  description = "Emails allowed to call the sharing function. Each gets roles/run.invoker on it and is written to the config allow-list. Service account emails (….gserviceaccount.com) are granted as serviceAccount:, others as user:."
  default     = []

  validation {
    condition     = alltrue([for e in var.sharing_admins : can(regex("^[^@\\s:]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$", e))])
    error_message = "sharing_admins must be plain email addresses (no user:/group: prefix)."
  }
}

variable "snapshot_object" {
  type        = string
  description = "Object name of the availability snapshot inside the snapshot bucket. Passed to the config template as snapshot_uri."
  default     = "availability/snapshot.json"

  validation {
    condition     = can(regex("^[^/\\s][^\\s]{0,1023}$", var.snapshot_object))
    error_message = "snapshot_object must be a GCS object name without leading slash or spaces."
  }
}

# --- Functions -----------------------------------------------------------------------------------------------

variable "booking_max_instances" {
  type        = number
  description = "Maximum instances of the public booking function: the ceiling on cost and on Google API quota a traffic spike can consume."
  default     = 10

  validation {
    condition     = var.booking_max_instances >= 1 && var.booking_max_instances <= 1000 && floor(var.booking_max_instances) == var.booking_max_instances
    error_message = "booking_max_instances must be an integer between 1 and 1000."
  }
}

variable "booking_min_instances" {
  type        = number
  description = "Minimum (warm) instances of the booking function. 0 scales to zero; 1 removes most cold starts at the cost of an idle instance."
  default     = 0

  validation {
    condition     = var.booking_min_instances >= 0 && var.booking_min_instances <= 10 && floor(var.booking_min_instances) == var.booking_min_instances
    error_message = "booking_min_instances must be an integer between 0 and 10."
  }
}

variable "sharing_max_instances" {
  type        = number
  description = "Maximum instances of the sharing function (admin traffic only)."
  default     = 2

  validation {
    condition     = var.sharing_max_instances >= 1 && var.sharing_max_instances <= 100 && floor(var.sharing_max_instances) == var.sharing_max_instances
    error_message = "sharing_max_instances must be an integer between 1 and 100."
  }
}

variable "booking_timeout_seconds" {
  type        = number
  description = "Request timeout of the booking function, in seconds. The function's own Google retry deadline is shorter."
  default     = 60

  validation {
    condition     = var.booking_timeout_seconds >= 10 && var.booking_timeout_seconds <= 3600 && floor(var.booking_timeout_seconds) == var.booking_timeout_seconds
    error_message = "booking_timeout_seconds must be an integer between 10 and 3600."
  }
}

variable "sharing_timeout_seconds" {
  type        = number
  description = "Request timeout of the sharing function, in seconds (bulk requests share many calendars)."
  default     = 120

  validation {
    condition     = var.sharing_timeout_seconds >= 10 && var.sharing_timeout_seconds <= 3600 && floor(var.sharing_timeout_seconds) == var.sharing_timeout_seconds
    error_message = "sharing_timeout_seconds must be an integer between 10 and 3600."
  }
}

variable "sync_timeout_seconds" {
  type        = number
  description = "Request timeout of the sync function, in seconds. Must be at least scheduler_attempt_deadline_seconds."
  default     = 300

  validation {
    condition     = var.sync_timeout_seconds >= 15 && var.sync_timeout_seconds <= 3600 && floor(var.sync_timeout_seconds) == var.sync_timeout_seconds
    error_message = "sync_timeout_seconds must be an integer between 15 and 3600."
  }
}

variable "function_memory" {
  type        = string
  description = "Memory of each function instance (Cloud Run notation, e.g. 256Mi, 512Mi, 1Gi)."
  default     = "512Mi"

  validation {
    condition     = can(regex("^[1-9][0-9]*(Mi|Gi)$", var.function_memory))
    error_message = "function_memory must look like 256Mi or 1Gi."
  }
}

variable "sharing_ingress" {
  type        = string
  description = "Ingress of the sharing function. ALLOW_ALL lets admins call it from anywhere (IAM still decides who may); ALLOW_INTERNAL_ONLY restricts it to the VPC."
  default     = "ALLOW_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.sharing_ingress)
    error_message = "sharing_ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "sync_ingress" {
  type        = string
  description = "Ingress of the sync function. Cloud Scheduler in the same project counts as internal, so ALLOW_INTERNAL_ONLY is enough for the scheduled run."
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.sync_ingress)
    error_message = "sync_ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

# --- Scheduler -----------------------------------------------------------------------------------------------

variable "sync_schedule" {
  type        = string
  description = "Cron schedule (5 fields, unix-cron) of the availability sync."
  default     = "*/10 * * * *"

  validation {
    condition     = can(regex("^\\S+(\\s+\\S+){4}$", trimspace(var.sync_schedule)))
    error_message = "sync_schedule must be a 5-field unix-cron expression such as \"*/10 * * * *\"."
  }
}

variable "sync_time_zone" {
  type        = string
  description = "IANA time zone the sync schedule is read in, e.g. Europe/Berlin."
  default     = "Etc/UTC"

  validation {
    condition     = can(regex("^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$", var.sync_time_zone))
    error_message = "sync_time_zone must be an IANA time zone name such as Etc/UTC or Europe/Berlin."
  }
}

variable "scheduler_attempt_deadline_seconds" {
  type        = number
  description = "How long Cloud Scheduler waits for one sync attempt before it counts as failed and retries. Must not exceed sync_timeout_seconds."
  default     = 240

  validation {
    condition     = var.scheduler_attempt_deadline_seconds >= 15 && var.scheduler_attempt_deadline_seconds <= 1800 && floor(var.scheduler_attempt_deadline_seconds) == var.scheduler_attempt_deadline_seconds
    error_message = "scheduler_attempt_deadline_seconds must be an integer between 15 and 1800 (Cloud Scheduler's limits for HTTP targets)."
  }
}

variable "scheduler_retry_count" {
  type        = number
  description = "How many times Cloud Scheduler retries a failed sync attempt (with exponential backoff) before waiting for the next run."
  default     = 2

  validation {
    condition     = var.scheduler_retry_count >= 0 && var.scheduler_retry_count <= 5 && floor(var.scheduler_retry_count) == var.scheduler_retry_count
    error_message = "scheduler_retry_count must be an integer between 0 and 5."
  }
}

variable "sync_paused" {
  type        = bool
  description = "Create the scheduler job paused (e.g. until the credentials secret has a version)."
  default     = false
}

# --- Storage -------------------------------------------------------------------------------------------------

variable "source_bucket_name" {
  type        = string
  description = "Name of the bucket holding the function bundles. Null means \"<project_id>-<name_prefix>-sources\"."
  default     = null

  validation {
    condition     = var.source_bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.source_bucket_name))
    error_message = "source_bucket_name must be a valid bucket name: 3-63 lowercase letters, digits, -, _ or ."
  }
}

variable "snapshot_bucket_name" {
  type        = string
  description = "Name of the bucket holding the availability snapshot the sync writes and booking reads. Null means \"<project_id>-<name_prefix>-snapshots\"."
  default     = null

  validation {
    condition     = var.snapshot_bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.snapshot_bucket_name))
    error_message = "snapshot_bucket_name must be a valid bucket name: 3-63 lowercase letters, digits, -, _ or ."
  }
}

variable "bucket_location" {
  type        = string
  description = "Location of both buckets. Null means var.region."
  default     = null
}

variable "storage_kms_key_name" {
  type        = string
  description = "Optional Cloud KMS key (projects/…/locations/…/keyRings/…/cryptoKeys/…) for CMEK on both buckets. The module grants the project's Cloud Storage service agent encrypter/decrypter on it. Null uses Google-managed keys."
  default     = null

  validation {
    condition     = var.storage_kms_key_name == null ? true : can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.storage_kms_key_name))
    error_message = "storage_kms_key_name must be a full crypto key name: projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "noncurrent_version_retention_days" {
  type        = number
  description = "Days a replaced (noncurrent) object version is kept in either bucket before deletion."
  default     = 7

  validation {
    condition     = var.noncurrent_version_retention_days >= 1 && var.noncurrent_version_retention_days <= 365
    error_message = "noncurrent_version_retention_days must be between 1 and 365."
  }
}

variable "force_destroy_buckets" {
  type        = bool
  description = "Let `terraform destroy` delete the buckets with their objects. Keep false in production."
  default     = false
}
