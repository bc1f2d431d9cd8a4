# The booking configuration (DESIGN section 5): one TOML file, path in BOOKING_CONFIG.
#
# Choice: the operator writes the TOML as a template (var.booking_config_template, e.g. the example's
# booking.toml.tftpl). Terraform renders it with the values it owns, so that each fact has one source:
#
#   project_id, region, environment    the deployment
#   allowed_origins                    var.allowed_origins (CORS of the booking function)
#   sharing_admins                     var.sharing_admins (also the sharing function's IAM invokers)
#   scheduler_identity                 the scheduler service account (also the sync function's only invoker)
#   snapshot_bucket, snapshot_uri      the snapshot bucket and var.snapshot_object
#   dwd_service_account, keyless_dwd   the DWD service account and the keyless switch
#   sharing_audience, sync_audience    the functions' ID-token audiences (their cloudfunctions.net URLs, known
#                                      before the functions exist; the scheduler mints for sync_audience)
#   trusted_proxy_hops                 which X-Forwarded-For entry is the client: 1 behind Cloud Run's front end,
#                                      2 behind the edge's load balancer (var.edge_enabled). Any other value lets
#                                      a caller choose the address its rate limits count, so a precondition
#                                      refuses a rendered config that disagrees.
#
# The rendered file is stored as the single version of a dedicated config secret and mounted read-only into
# every function (secret_volumes) at /etc/booking-config/booking.toml. That keeps config out of the code
# bundles (a config change does not rebuild them; a bundle stays the same for every deployment) and still
# redeploys the functions on change, because the mounted version number changes. The config holds no secret:
# a precondition refuses anything that looks like key material. Credentials live only in the credentials
# secrets (secrets.tf), whose versions Terraform writes only as keyless descriptors.

locals {
  config_mount_path = "/etc/booking-config"
  # The functions check `aud` against these (never against request headers); deterministic, so no cycle.
  function_url_base = "https://${var.region}-${var.project_id}.cloudfunctions.net"
  sharing_audience  = "${local.function_url_base}/${var.name_prefix}-sharing"
  sync_audience     = "${local.function_url_base}/${var.name_prefix}-sync"
  config_file_name  = "booking.toml"
  # Behind the load balancer, Cloud Run's front end sees the balancer: the client is one entry further left.
  trusted_proxy_hops = var.edge_enabled ? 2 : 1
  config_proxy_hops = [
    for found in regexall("(?m)^[ \\t]*trusted_proxy_hops[ \\t]*=[ \\t]*([0-9]+)", local.booking_config) : tonumber(found[0])
  ]

  booking_config = templatefile(var.booking_config_template, {
    project_id          = var.project_id
    region              = var.region
    environment         = var.environment
    allowed_origins     = var.allowed_origins
    sharing_admins      = var.sharing_admins
    scheduler_identity  = google_service_account.scheduler.email
    snapshot_bucket     = google_storage_bucket.snapshots.name
    snapshot_uri        = "gs://${google_storage_bucket.snapshots.name}/${var.snapshot_object}"
    dwd_service_account = google_service_account.dwd.email
    keyless_dwd         = var.keyless_dwd
    sharing_audience    = local.sharing_audience
    sync_audience       = local.sync_audience
    trusted_proxy_hops  = local.trusted_proxy_hops
  })

  # Environment of each function: where the config is and the versions of the secrets it (and only it) may read
  # (secrets.tf). Nothing else reads the environment (DESIGN section 5), and no value here is a secret: names only.
  config_env = { BOOKING_CONFIG = "${local.config_mount_path}/${local.config_file_name}" }
  # THREADS: functions-framework's gunicorn worker threads (its default is 4 per CPU the process sees, which on
  # Cloud Run is not the instance's CPU): one per request the instance may be sent at once.
  function_env = {
    booking = merge(local.config_env, {
      CREDENTIALS_SECRET = local.credentials_secret_version_name
      TOKEN_KEY_SECRET   = local.token_key_secret_version_name
      THREADS            = tostring(local.function_settings.booking.concurrency)
    })
    sync = merge(local.config_env, {
      CREDENTIALS_SECRET = local.credentials_secret_version_name
      THREADS            = tostring(local.function_settings.sync.concurrency)
    })
    sharing = merge(local.config_env, {
      SHARING_CREDENTIALS_SECRET = local.sharing_credentials_secret_version_name
      THREADS                    = tostring(local.function_settings.sharing.concurrency)
    })
  }
}

resource "google_secret_manager_secret" "config" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-booking-config"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_version" "config" {
  secret      = google_secret_manager_secret.config.id
  secret_data = local.booking_config

  lifecycle {
    precondition {
      condition = !anytrue([
        for marker in ["PRIVATE KEY", "private_key", "refresh_token", "client_secret"] :
        strcontains(local.booking_config, marker)
      ])
      error_message = "The rendered booking config contains what looks like credentials (private key, refresh token or client secret). Credentials belong in the credentials secret, added out of band, never in the config."
    }
    precondition {
      condition     = length(local.config_proxy_hops) == 1 && alltrue([for hops in local.config_proxy_hops : hops == local.trusted_proxy_hops])
      error_message = "The rendered booking config must set trusted_proxy_hops once, to the module's value (write trusted_proxy_hops = $${trusted_proxy_hops} in the template): 1 behind Cloud Run, 2 with edge_enabled. Another value makes the rate limits count an address the caller chose."
    }
  }
}
