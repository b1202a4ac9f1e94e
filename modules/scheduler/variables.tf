variable "create" {
  type        = bool
  description = "Create the schedule group, the role and the dead-letter queue."
  default     = true
}

variable "name_prefix" {
  type        = string
  description = "Deployment prefix: the schedule group's name, and the prefix of the role and queue names."

  validation {
    condition     = can(regex("^[0-9a-zA-Z_.-]{1,64}$", var.name_prefix))
    error_message = "A schedule group name is 1-64 characters of 0-9 a-z A-Z - _ ."
  }
}

variable "region" {
  type        = string
  description = "Region of the deployment (role name, ARNs)."
}

variable "target_function_arn" {
  type        = string
  description = "ARN of the push function, the only target the role may invoke."
}

variable "dlq_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the dead-letter queue; null uses SQS-managed encryption."
  default     = null
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of the role, for organisations that require one."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the group, the role and the queue."
  default     = {}
}
