variable "create" {
  type        = bool
  description = "Whether to create the API. When false the module creates nothing and its outputs are null."
  default     = true
}

variable "name" {
  type        = string
  description = "Name of the WebSocket API; also the prefix of its log group and permissions."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,128}$", var.name))
    error_message = "name must be 1-128 characters of letters, digits, '_', '-' or '.'."
  }
}

variable "description" {
  type        = string
  description = "Description of the API."
  default     = "WebSocket push notifications"
}

variable "stage_name" {
  type        = string
  description = "Stage name; part of the wss:// URL and of the @connections endpoint."
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be 1-128 letters, digits, '_' or '-'."
  }
}

variable "functions" {
  type = map(object({
    function_name = string
    invoke_arn    = string
  }))
  description = "The Lambda functions behind the routes, keyed connect, disconnect, poll, push and (when enable_authorizer) authorizer. May be empty only when create is false."
  default     = {}

  validation {
    condition     = length(var.functions) == 0 || alltrue([for k in ["connect", "disconnect", "poll", "push"] : contains(keys(var.functions), k)])
    error_message = "functions must contain connect, disconnect, poll and push (or be empty when create is false)."
  }
}

variable "enable_authorizer" {
  type        = bool
  description = "Protect $connect with the REQUEST authorizer in functions.authorizer."
  default     = true
}

variable "authorizer_identity_source" {
  type        = string
  description = <<-EOT
    Where API Gateway requires the token before it calls the authorizer: "query" (route.request.querystring.token),
    "header" (route.request.header.Sec-WebSocket-Protocol) or "either" (no identity source: API Gateway always calls
    the authorizer, which looks in both places and refuses when neither holds a token). API Gateway demands every
    listed source, so "either" is the only way to accept both clients.
  EOT
  default     = "either"

  validation {
    condition     = contains(["query", "header", "either"], var.authorizer_identity_source)
    error_message = "authorizer_identity_source must be query, header or either."
  }
}

variable "create_push_route" {
  type        = bool
  description = "Create the `push` route (client push). Without it a push frame gets the $default UNKNOWN_ACTION reply."
  default     = false
}

variable "create_refresh_route" {
  type        = bool
  description = "Create the `refresh` route (a client sends a new token to keep its connection past the old token's expiry); needs functions.refresh."
  default     = false
}

variable "create_topic_routes" {
  type        = bool
  description = "Create the `subscribe` and `unsubscribe` routes (topic subscriptions); needs functions.topics. Without them those frames get the $default UNKNOWN_ACTION reply."
  default     = false
}

variable "route_throttling" {
  type = map(object({
    burst_limit = number
    rate_limit  = number
  }))
  description = "Throttling per route key (for example push and poll), below the stage default, so one route cannot use the whole stage's budget. Settings for routes that do not exist are ignored."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.route_throttling : v.burst_limit >= 0 && v.rate_limit >= 0 && v.burst_limit == floor(v.burst_limit)])
    error_message = "route_throttling limits must be >= 0 (burst_limit a whole number)."
  }
}

variable "auto_deploy" {
  type        = bool
  description = <<-EOT
    Let the stage deploy itself (AutoDeploy) instead of the explicit deployment re-created whenever a hash of the
    routes, integrations, responses and authorizer changes. Default false: the explicit deployment is the documented
    practice for WebSocket APIs. true exists for emulators that have no CreateDeployment (moto).
  EOT
  default     = false
}

variable "throttling_burst_limit" {
  type        = number
  description = "Default route throttling: burst (requests)."
  default     = 500

  validation {
    condition     = var.throttling_burst_limit >= 1 && var.throttling_burst_limit == floor(var.throttling_burst_limit)
    error_message = "throttling_burst_limit must be a whole number >= 1 (0 throttles every request)."
  }
}

variable "throttling_rate_limit" {
  type        = number
  description = "Default route throttling: steady-state rate (requests per second)."
  default     = 1000

  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "throttling_rate_limit must be > 0 (0 throttles every request)."
  }
}

variable "detailed_metrics_enabled" {
  type        = bool
  description = "Per-route CloudWatch metrics."
  default     = true
}

variable "logging_level" {
  type        = string
  description = "Execution logging level (OFF, ERROR, INFO). Anything but OFF needs the account-level API Gateway CloudWatch role (account_logging_role_ready); the execution log group API-Gateway-Execution-Logs_{api_id}/{stage} is created with log_retention_days."
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.logging_level)
    error_message = "logging_level must be OFF, ERROR or INFO."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the access log group, in days."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  type        = string
  description = "KMS key ARN encrypting the access log group (its key policy must allow CloudWatch Logs). Null: CloudWatch's default encryption."
  default     = null
}

variable "enable_access_logs" {
  type        = bool
  description = "JSON access logs of the stage in a log group with retention. Needs the Region's API Gateway CloudWatch role (account_logging_role_ready)."
  default     = false
}

variable "account_logging_role_ready" {
  type        = bool
  description = <<-EOT
    Whether this account and Region has an API Gateway CloudWatch role (aws_api_gateway_account), which stage logging
    (enable_access_logs, logging_level) needs. The plan fails when logging is on and this is false, instead of the
    apply failing half-way. Pass a value derived from the account setting's resource when the same configuration
    creates it, so the stage waits for it.
  EOT
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the API, stage and log groups."
  default     = {}
}
