variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy into."
}

variable "region" {
  type        = string
  description = "Region of the functions, scheduler job and buckets."
  default     = "europe-west1"
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."
  default     = "wcb"
}

variable "environment" {
  type        = string
  description = "production, staging or development."
  default     = "production"
}

variable "credentials_secret_version" {
  type        = string
  description = "Version of the credentials secret to read: the number `gcloud secrets versions add` printed."
  default     = "1"
}

variable "keyless_dwd" {
  type        = bool
  description = "Use keyless domain-wide delegation (IAM Credentials signJwt) instead of a service account key."
  default     = false
}

variable "allowed_origins" {
  type        = list(string)
  description = "Website origins allowed to call the booking function (CORS)."
  default     = []
}

variable "sharing_admins" {
  type        = list(string)
  description = "Emails allowed to call the sharing function."
  default     = []
}

variable "booking_max_instances" {
  type        = number
  description = "Maximum instances of the booking function."
  default     = 10
}
