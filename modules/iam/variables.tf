variable "create" {
  type        = bool
  description = "Whether to create the roles. When false the module creates nothing and its outputs are empty."
  default     = true
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the role names: `<name_prefix>-<function>`."

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,50}$", var.name_prefix))
    error_message = "name_prefix must be 1-50 characters valid in an IAM role name (letters, digits, +=,.@_-)."
  }
}

variable "create_authorizer_role" {
  type        = bool
  description = "Create the roles of the functions that exist only with authentication: authorizer, refresh and sweeper."
  default     = true
}

variable "region" {
  type        = string
  description = "AWS Region of the deployment: part of every role name (role names are account-global) and of kms:ViaService conditions."
}

variable "connections_table_arn" {
  type        = string
  description = "ARN of the connections table."
}

variable "connections_user_index_arn" {
  type        = string
  description = "ARN of the connections table's userId GSI (push queries it)."
}

variable "connections_expiry_index_arn" {
  type        = string
  description = "ARN of the connections table's token-expiry GSI (the sweeper queries it)."
  default     = "-"
}

variable "rate_limits_table_arn" {
  type        = string
  description = "ARN of the client-push rate limit table; push may UpdateItem it. Null when client push is off."
  default     = null
}

variable "client_push_policy_function_arn" {
  type        = string
  description = "ARN of the consumer's Lambda function that allows or denies client pushes; push may invoke only it. Null unless that policy is chosen."
  default     = null
}

variable "async_failure_queue_arn" {
  type        = string
  description = "ARN of the SQS queue receiving push's failed asynchronous invocations (on-failure destination); push may SendMessage to it."
  default     = null
}

variable "async_failure_queue_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key of that queue, if any: push may use it to encrypt messages."
  default     = null
}

variable "notifications_table_arn" {
  type        = string
  description = "ARN of the notifications table."
}

variable "table_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key of the tables, if any: the table-using roles get the key actions DynamoDB needs, only through DynamoDB."
  default     = null
}

variable "api_execution_arn" {
  type        = string
  description = "Execution ARN of the WebSocket API (arn:aws:execute-api:region:account:apiId)."
}

variable "stage_name" {
  type        = string
  description = "WebSocket stage name; execute-api:ManageConnections is scoped to `<api_execution_arn>/<stage_name>/POST/@connections/*`."
}

variable "enable_broadcast" {
  type        = bool
  description = "Grant push dynamodb:Scan on the connections table (needed for broadcast only)."
  default     = false
}

variable "grant_connection_lookup" {
  type        = bool
  description = "Grant poll and push dynamodb:GetItem on the connections table. Needed only when authentication is disabled: the user of a frame is then read from the connection row instead of the authorizer context."
  default     = false
}

variable "jwt_secret_parameter_arn" {
  type        = string
  description = "ARN of the SSM parameter holding the HS256 secret; the authorizer may read only this parameter. Null in JWKS mode."
  default     = null
}

variable "jwt_secret_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key encrypting the SSM SecureString, if any (the aws/ssm key needs no grant): the authorizer gets kms:Decrypt on it through SSM only."
  default     = null
}

variable "log_group_arns" {
  type        = map(string)
  description = "Log group ARN per function name (connect, disconnect, push, poll, authorizer); each role may write only to its own group."
}

variable "tracing_enabled" {
  type        = bool
  description = "Attach AWSXRayDaemonWriteAccess so functions can send X-Ray segments (X-Ray has no resource-level permissions, hence a managed policy)."
  default     = false
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary applied to every role, for organisations that require one."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the roles."
  default     = {}
}

variable "http_api_functions" {
  type        = list(string)
  description = "HTTP API functions that need a role: \"users\" (presence, revocation) and/or \"me\" (the caller's history)."
  default     = []

  validation {
    condition     = alltrue([for f in var.http_api_functions : contains(["users", "me"], f)])
    error_message = "http_api_functions may hold only \"users\" and \"me\"."
  }
}

variable "mobile_push" {
  type        = bool
  description = "Mobile push is on: creates the devices role and lets push read the device registry and publish to SNS endpoints."
  default     = false
}

variable "devices_table_arn" {
  type        = string
  description = "ARN of the device registry (mobile push), or null."
  default     = null
}

variable "devices_user_index_arn" {
  type        = string
  description = "ARN of the device registry's userId GSI (mobile push), or null."
  default     = null
}

variable "profiles_table_arn" {
  type        = string
  description = "ARN of the user profiles table: users keeps it (Get/Put/DeleteItem), push reads candidates of a segment (BatchGetItem). Null grants nothing."
  default     = null
}

variable "segment_index_table_arn" {
  type        = string
  description = "ARN of the segment index table: users writes its items (Put/DeleteItem), push queries it and prunes stale items (Query, DeleteItem). Null grants nothing."
  default     = null
}

variable "scheduling" {
  type = object({
    schedules_table_arn  = string
    target_index_arn     = string
    schedule_arn_pattern = string
    scheduler_role_arn   = string
    profiles_table_arn   = optional(string)
  })
  description = "Scheduled sends (null: off): the schedules table and its target GSI, the ARN pattern of the group's schedules (schedule/<group>/*), the role Scheduler assumes (the only one push and schedules may pass) and the profiles table read for time zones. Creates the schedules role and extends push's."
  default     = null
}
