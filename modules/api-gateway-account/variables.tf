variable "create" {
  type        = bool
  description = "Set the Region-wide API Gateway account setting. False creates nothing."
  default     = true
}

variable "name" {
  type        = string
  description = "Name of the role; the Region is appended (`<name>-<region>`) because IAM role names are account-global."
  default     = "apigateway-cloudwatch-logs"

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,48}$", var.name))
    error_message = "name must be 1-48 characters of IAM's role name set (letters, digits, +=,.@_-)."
  }
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of the role."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags of the role."
  default     = {}
}
