variable "create" {
  type        = bool
  description = "Create the queues and the event source mapping."
  default     = true
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the queue names (`<name_prefix>-fanout`, `<name_prefix>-fanout-dlq`)."
}

variable "function_arn" {
  type        = string
  description = "ARN of the fanout function the event source mapping invokes."
}

variable "worker_timeout" {
  type        = number
  description = "Timeout (seconds) of the fanout function; the visibility timeout defaults to six times it."
}

variable "worker_policy_ready" {
  type        = string
  description = "Any value that is known once the fanout function's role policy exists (the mapping waits for it)."
  default     = ""
}

variable "visibility_timeout_seconds" {
  type        = number
  description = "Visibility timeout of the shard queue. Null: six times worker_timeout (AWS's recommendation)."
  default     = null

  validation {
    condition     = var.visibility_timeout_seconds == null || (coalesce(var.visibility_timeout_seconds, 0) >= 0 && coalesce(var.visibility_timeout_seconds, 0) <= 43200)
    error_message = "visibility_timeout_seconds must be between 0 and 43200 (12 hours)."
  }
}

variable "max_receive_count" {
  type        = number
  description = "Receives of a shard message before SQS moves it to the dead-letter queue."
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && var.max_receive_count == floor(var.max_receive_count)
    error_message = "max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "batch_size" {
  type        = number
  description = "Shards per invocation of the fanout function (1..10)."
  default     = 1

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10 && var.batch_size == floor(var.batch_size)
    error_message = "batch_size must be a whole number between 1 and 10."
  }
}

variable "max_concurrency" {
  type        = number
  description = "Most concurrent invocations of the fanout function by the mapping (AWS: 2..1000)."
  default     = 10

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000 && var.max_concurrency == floor(var.max_concurrency)
    error_message = "max_concurrency must be a whole number between 2 and 1000 (AWS's limits)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key of both queues. Null: SQS-managed encryption (SSE-SQS)."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the queues."
  default     = {}
}
