# Optional edge in front of the functions (issue 13), all off by default:
#
#   var.edge_enabled          a global external Application Load Balancer (EXTERNAL_MANAGED) with a serverless NEG
#                             for the booking function, a Google-managed certificate for var.edge_domains, and a
#                             Cloud Armor security policy with rate-based (throttle) rules: bookings and moves,
#                             live availability reads, and everything, per client IP. The function's own token
#                             buckets count per instance; Cloud Armor is the global limit. The booking function's
#                             ingress becomes internal-and-load-balancer, so the policy cannot be bypassed
#                             through the run.app / cloudfunctions.net URL.
#   var.edge_sharing_iap      Identity-Aware Proxy in front of the sharing function, on the same load balancer at
#                             var.edge_sharing_domain; only var.sharing_admins may pass (roles/iap.httpsResourceAccessor).
#                             IAP uses the Google-managed OAuth client (no client secret in the state). The
#                             function reads the caller from IAP's signed assertion once `sharing.iap_audience` in
#                             the config is the output edge_sharing_iap_audience (known after the first apply).
#                             Needs google provider 6.x (the backend service's `iap.enabled`).
#
# The functions are referenced through local.edge_functions only (the for_each function resource).

locals {
  edge_functions = google_cloudfunctions2_function.function

  edge_backends = toset(concat(
    var.edge_enabled ? ["booking"] : [],
    var.edge_enabled && var.edge_sharing_iap ? ["sharing"] : [],
  ))
  # Behind the load balancer the booking function takes no traffic from elsewhere (Cloud Armor cannot be skipped).
  booking_ingress = var.edge_enabled ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"
  edge_apis       = var.edge_enabled && var.enable_apis ? toset(concat(["compute.googleapis.com"], var.edge_sharing_iap ? ["iap.googleapis.com"] : [])) : toset([])
  edge_domains    = concat(var.edge_domains, var.edge_enabled && var.edge_sharing_iap ? [var.edge_sharing_domain] : [])
  # IAP's service agent invokes the (IAM-only) sharing function for the admins it let through (iam.tf).
  edge_invokers = var.edge_enabled && var.edge_sharing_iap ? {
    iap-service-agent = {
      function = "sharing"
      member   = "serviceAccount:service-${data.google_project.edge[0].number}@gcp-sa-iap.iam.gserviceaccount.com"
    }
  } : {}
}

resource "google_project_service" "edge" {
  for_each = local.edge_apis

  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}

resource "google_compute_region_network_endpoint_group" "edge" {
  for_each = local.edge_backends

  project               = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-${each.key}-neg"
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = local.edge_functions[each.key].service_config[0].service
  }

  depends_on = [google_project_service.edge]
}

resource "google_compute_security_policy" "edge" {
  count = var.edge_enabled ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}-edge"
  description = "Rate limits per client IP in front of the booking function (workspace-calendar-booking)."
  type        = "CLOUD_ARMOR"

  rule {
    action      = "deny(403)"
    priority    = 100
    description = "Log4j lookups (CVE-2021-44228 canary), refused before anything else."
    match {
      expr {
        expression = "evaluatePreconfiguredExpr('cve-canary')"
      }
    }
  }

  rule {
    action      = "throttle"
    priority    = 1000
    description = "Bookings, moves and cancellations: each sends Google invitation or cancellation mail."
    match {
      expr {
        expression = "request.path.startsWith('/bookings') && request.method != 'GET'"
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.edge_bookings_per_ip_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "throttle"
    priority    = 1100
    description = "Live availability reads: each costs Calendar API calls as the employee."
    match {
      expr {
        expression = "request.path.startsWith('/slots') && request.query.contains('live=true')"
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.edge_live_slots_per_ip_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "throttle"
    priority    = 2000
    description = "Every request, per client IP."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.edge_requests_per_ip_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Default: allow (the rules above limit)."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  depends_on = [google_project_service.edge]
}

resource "google_compute_backend_service" "edge" {
  for_each = local.edge_backends

  project               = var.project_id
  name                  = "${var.name_prefix}-${each.key}"
  description           = "Serverless NEG backend for the ${each.key} function (workspace-calendar-booking)."
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  security_policy       = google_compute_security_policy.edge[0].id

  backend {
    group = google_compute_region_network_endpoint_group.edge[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1
  }

  dynamic "iap" {
    for_each = each.key == "sharing" ? [true] : []
    content {
      enabled = true
    }
  }
}

resource "google_compute_url_map" "edge" {
  count = var.edge_enabled ? 1 : 0

  project         = var.project_id
  name            = "${var.name_prefix}-edge"
  description     = "Booking at var.edge_domains; sharing behind IAP at var.edge_sharing_domain when enabled."
  default_service = google_compute_backend_service.edge["booking"].id

  dynamic "host_rule" {
    for_each = var.edge_sharing_iap ? [var.edge_sharing_domain] : []
    content {
      hosts        = [host_rule.value]
      path_matcher = "sharing"
    }
  }

  dynamic "path_matcher" {
    for_each = var.edge_sharing_iap ? ["sharing"] : []
    content {
      name            = path_matcher.value
      default_service = google_compute_backend_service.edge["sharing"].id
    }
  }

  lifecycle {
    precondition {
      condition     = length(var.edge_domains) > 0
      error_message = "edge_enabled = true needs edge_domains: the host names the managed certificate is issued for."
    }
    precondition {
      condition     = !var.edge_sharing_iap || var.edge_sharing_domain != null
      error_message = "edge_sharing_iap = true needs edge_sharing_domain: the host name admins reach sharing at."
    }
  }
}

resource "google_compute_managed_ssl_certificate" "edge" {
  count = var.edge_enabled ? 1 : 0

  project = var.project_id
  name    = "${var.name_prefix}-edge"

  managed {
    domains = local.edge_domains
  }

  depends_on = [google_project_service.edge]
}

resource "google_compute_ssl_policy" "edge" {
  count = var.edge_enabled ? 1 : 0

  project         = var.project_id
  name            = "${var.name_prefix}-edge"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"

  depends_on = [google_project_service.edge]
}

resource "google_compute_target_https_proxy" "edge" {
  count = var.edge_enabled ? 1 : 0

  project          = var.project_id
  name             = "${var.name_prefix}-edge"
  url_map          = google_compute_url_map.edge[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.edge[0].id]
  ssl_policy       = google_compute_ssl_policy.edge[0].id
}

resource "google_compute_global_address" "edge" {
  count = var.edge_enabled ? 1 : 0

  project = var.project_id
  name    = "${var.name_prefix}-edge"

  depends_on = [google_project_service.edge]
}

resource "google_compute_global_forwarding_rule" "edge" {
  count = var.edge_enabled ? 1 : 0

  project               = var.project_id
  name                  = "${var.name_prefix}-edge"
  target                = google_compute_target_https_proxy.edge[0].id
  ip_address            = google_compute_global_address.edge[0].id
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  labels                = local.labels
}

# IAP: only the sharing admins get through; IAP's service agent is an invoker of sharing (local.edge_invokers).
data "google_project" "edge" {
  count = var.edge_enabled && var.edge_sharing_iap ? 1 : 0

  project_id = var.project_id
}

resource "google_iap_web_backend_service_iam_member" "sharing_admins" {
  for_each = var.edge_enabled && var.edge_sharing_iap ? toset(var.sharing_admins) : toset([])

  project             = var.project_id
  web_backend_service = google_compute_backend_service.edge["sharing"].name
  role                = "roles/iap.httpsResourceAccessor"
  member              = endswith(each.value, ".gserviceaccount.com") ? "serviceAccount:${each.value}" : "user:${each.value}"
}
