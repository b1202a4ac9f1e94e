# Sharded fan-out jobs (docs/architecture.md, "Fan-out jobs"): one header item per job (sort key
# `job`: the frame, shard count, counters, the set of finished shards) and one item per finished
# shard (`shard#<5-digit index>`). Every item expires with the job (TTL on expiresAt, 7 days).

variable "create_jobs_table" {
  type        = bool
  description = "Create the fan-out jobs table (`<name_prefix>-jobs`)."
  default     = false
}

resource "aws_dynamodb_table" "jobs" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create && var.create_jobs_table ? 1 : 0

  name                        = "${var.name_prefix}-jobs"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.connections_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.connections_write : null
  hash_key                    = "jobId"
  range_key                   = "item"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "jobId"
    type = "S"
  }

  attribute {
    name = "item"
    type = "S"
  }

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

  # A job's progress is what an operator reads to decide whether to re-send: recoverable like
  # the history.
  point_in_time_recovery {
    enabled = var.notifications_point_in_time_recovery
  }

  tags = var.tags
}

output "jobs_table_name" {
  description = "Name of the fan-out jobs table (null when not created)."
  value       = try(aws_dynamodb_table.jobs[0].name, null)
}

output "jobs_table_arn" {
  description = "ARN of the fan-out jobs table (null when not created)."
  value       = try(aws_dynamodb_table.jobs[0].arn, null)
}
