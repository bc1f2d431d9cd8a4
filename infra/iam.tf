# Who may invoke each function. Gen2 functions are Cloud Run services, so invocation is roles/run.invoker on
# the function's service (roles/cloudfunctions.invoker does not cover gen2 HTTP calls).
#
#   booking  public: allUsers (the website's visitors are anonymous)
#   sharing  the admins in var.sharing_admins only (and IAP's service agent when IAP is in front, edge.tf)
#   sync     the scheduler service account only
#
# The custom checkov policy CKV_WCB_4 (infra/policies) fails any allUsers / allAuthenticatedUsers grant on
# anything but the booking function.

locals {
  # One grant per key. The keys are those the grants had when they were three resources (booking_public,
  # sync_scheduler and sharing_admins[<email>]), which is what lets the moved blocks below keep every grant.
  # They are static (a function name, an admin's email), as for_each needs; the scheduler's email is not.
  service_invokers = {
    booking = { function = "booking", member = "allUsers" }
    sync    = { function = "sync", member = "serviceAccount:${google_service_account.scheduler.email}" }
  }
  admin_invokers = {
    for admin in toset(var.sharing_admins) : admin => {
      function = "sharing"
      member   = endswith(admin, ".gserviceaccount.com") ? "serviceAccount:${admin}" : "user:${admin}"
    }
  }
  invokers = merge(local.service_invokers, local.admin_invokers, local.edge_invokers) # edge: IAP's agent (edge.tf)
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.value.function].service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value.member

  # checkov sees this resource once, with each.value unresolved; the plan sees every grant.
  lifecycle {
    precondition {
      condition     = each.value.function == "booking" || !contains(["allUsers", "allAuthenticatedUsers"], each.value.member)
      error_message = "Only the booking function may be public: remove ${each.value.member} from the ${each.value.function} invokers."
    }
  }
}

moved {
  from = google_cloud_run_v2_service_iam_member.booking_public
  to   = google_cloud_run_v2_service_iam_member.invoker["booking"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.sync_scheduler
  to   = google_cloud_run_v2_service_iam_member.invoker["sync"]
}

# Every instance keeps its key (the admin's email).
moved {
  from = google_cloud_run_v2_service_iam_member.sharing_admins
  to   = google_cloud_run_v2_service_iam_member.invoker
}
