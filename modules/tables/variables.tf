variable "create" {
  type        = bool
  description = "Whether to create the tables. When false the module creates nothing and its outputs are null."
  default     = true
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the table names: `<name_prefix>-connections` and `<name_prefix>-notifications`."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,200}$", var.name_prefix))
    error_message = "name_prefix must be 1-200 characters of letters, digits, '_', '-' or '.' (DynamoDB table name rules)."
  }
}

variable "billing_mode" {
  type        = string
  description = "PAY_PER_REQUEST (on-demand: nothing to pay at idle) or PROVISIONED."
  default     = "PAY_PER_REQUEST"

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.billing_mode)
    error_message = "billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }
}

variable "provisioned_capacity" {
  type = object({
    connections_read    = optional(number, 5)
    connections_write   = optional(number, 5)
    index_read          = optional(number, 5)
    index_write         = optional(number, 5)
    notifications_read  = optional(number, 5)
    notifications_write = optional(number, 5)
  })
  description = "Read/write capacity units used only when billing_mode is PROVISIONED."
  default     = {}
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of a customer-managed KMS key for server-side encryption. Null uses the AWS-owned key (encryption at rest is always on)."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "connections_point_in_time_recovery" {
  type        = bool
  description = "Point-in-time recovery of the connections table. Off by default: its rows live at most ~2 hours and reconnecting clients rebuild them."
  default     = false
}

variable "notifications_point_in_time_recovery" {
  type        = bool
  description = "Point-in-time recovery of the notifications (history) table."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Enable DynamoDB deletion protection on both tables (a destroy then fails until it is switched off)."
  default     = false
}

variable "create_devices_table" {
  type        = bool
  description = "Create the device registry of mobile push (`<name_prefix>-devices`)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to both tables."
  default     = {}
}

variable "create_rate_limits_table" {
  type        = bool
  description = "Create `<name_prefix>-rate-limits` (partition key `bucket`, TTL on `expiresAt`): the per-user rate limit windows of client pushes."
  default     = false
}
