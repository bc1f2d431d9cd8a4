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

variable "token_key_secret_version" {
  type        = string
  description = "Version of the booking-token key secret: the number `gcloud secrets versions add` printed."
  default     = "1"
}

variable "keyless_dwd" {
  type        = bool
  description = "Keyless domain-wide delegation (recommended): no service account key; the functions sign through IAM Credentials."
  default     = true
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
