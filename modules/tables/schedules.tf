# Scheduled sends (issue 13; docs/architecture.md "Data model"): one item per schedule id, what
# it sends, its EventBridge Scheduler schedules ("parts") and what has fired. The GSI lists a
# target's schedules newest first (GET /v1/schedules?target=).

variable "create_schedules_table" {
  type        = bool
  description = "Create the table of scheduled sends (`<name_prefix>-schedules`)."
  default     = false
}

variable "schedules_point_in_time_recovery" {
  type        = bool
  description = "Point-in-time recovery of the schedules table (pending schedules are not rebuilt by clients, so it is on by default)."
  default     = true
}

locals {
  # Fixed by docs/architecture.md (SCHEDULES_TARGET_INDEX default).
  schedules_target_index_name = "target-index"
}

resource "aws_dynamodb_table" "schedules" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create && var.create_schedules_table ? 1 : 0

  name                        = "${var.name_prefix}-schedules"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.notifications_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.notifications_write : null
  hash_key                    = "scheduleId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "scheduleId"
    type = "S"
  }

  attribute {
    name = "target"
    type = "S"
  }

  attribute {
    name = "createdAt"
    type = "N"
  }

  global_secondary_index {
    name            = local.schedules_target_index_name
    hash_key        = "target"
    range_key       = "createdAt"
    projection_type = "ALL"
    read_capacity   = local.provisioned ? var.provisioned_capacity.index_read : null
    write_capacity  = local.provisioned ? var.provisioned_capacity.index_write : null
  }

  # A completed or cancelled schedule stays listed 30 days, then DynamoDB removes it.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  dynamic "server_side_encryption" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      enabled     = true
      kms_key_arn = server_side_encryption.value
    }
  }

  point_in_time_recovery {
    enabled = var.schedules_point_in_time_recovery
  }

  tags = var.tags
}

output "schedules_table_name" {
  description = "Name of the schedules table (the SCHEDULES_TABLE environment variable), or null when not created."
  value       = try(aws_dynamodb_table.schedules[0].name, null)
}

output "schedules_table_arn" {
  description = "ARN of the schedules table, for IAM policies."
  value       = try(aws_dynamodb_table.schedules[0].arn, null)
}

output "schedules_target_index_name" {
  description = "Name of the schedules table's GSI keyed by target (the SCHEDULES_TARGET_INDEX environment variable)."
  value       = length(aws_dynamodb_table.schedules) > 0 ? local.schedules_target_index_name : null
}

output "schedules_target_index_arn" {
  description = "ARN of the schedules table's target GSI, for IAM policies that Query it."
  value       = try("${aws_dynamodb_table.schedules[0].arn}/index/${local.schedules_target_index_name}", null)
}
