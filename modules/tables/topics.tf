# Topics (issue 12; docs/architecture.md "Data model"): who is subscribed to which topic, and
# each topic's history, stored once per topic rather than once per subscriber.

variable "create_topics_tables" {
  type        = bool
  description = "Create `<name_prefix>-subscriptions` (topic subscriptions) and `<name_prefix>-topic-history` (history of topic pushes)."
  default     = false
}

locals {
  # Fixed by docs/architecture.md (SUBSCRIPTIONS_USER_INDEX default).
  subscriptions_user_index_name = "userId-index"
}

# Partition per topic, one item per subscriber: a push reads a topic's subscribers with a paged
# Query; the userId index (KEYS_ONLY) lists one user's topics.
resource "aws_dynamodb_table" "subscriptions" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create && var.create_topics_tables ? 1 : 0

  name                        = "${var.name_prefix}-subscriptions"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.connections_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.connections_write : null
  hash_key                    = "topic"
  range_key                   = "userId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "topic"
    type = "S"
  }

  attribute {
    name = "userId"
    type = "S"
  }

  global_secondary_index {
    name            = local.subscriptions_user_index_name
    hash_key        = "userId"
    range_key       = "topic"
    projection_type = "KEYS_ONLY"
    read_capacity   = local.provisioned ? var.provisioned_capacity.index_read : null
    write_capacity  = local.provisioned ? var.provisioned_capacity.index_write : null
  }

  dynamic "server_side_encryption" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      enabled     = true
      kms_key_arn = server_side_encryption.value
    }
  }

  # Subscriptions are user data nobody can rebuild from elsewhere: recoverable like the history.
  point_in_time_recovery {
    enabled = var.notifications_point_in_time_recovery
  }

  tags = var.tags
}

# Partition per topic, ULID sort key (time-ordered), TTL on expiresAt: the rows of a
# notifications table, keyed by topic instead of user.
resource "aws_dynamodb_table" "topic_history" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create && var.create_topics_tables ? 1 : 0

  name                        = "${var.name_prefix}-topic-history"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.notifications_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.notifications_write : null
  hash_key                    = "topic"
  range_key                   = "notificationId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "topic"
    type = "S"
  }

  attribute {
    name = "notificationId"
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

  point_in_time_recovery {
    enabled = var.notifications_point_in_time_recovery
  }

  tags = var.tags
}

output "subscriptions_table_name" {
  description = "Name of the topic subscriptions table (the SUBSCRIPTIONS_TABLE environment variable), or null when not created."
  value       = try(aws_dynamodb_table.subscriptions[0].name, null)
}

output "subscriptions_table_arn" {
  description = "ARN of the topic subscriptions table, for IAM policies."
  value       = try(aws_dynamodb_table.subscriptions[0].arn, null)
}

output "subscriptions_user_index_name" {
  description = "Name of the subscriptions table's GSI keyed by userId (the SUBSCRIPTIONS_USER_INDEX environment variable)."
  value       = length(aws_dynamodb_table.subscriptions) > 0 ? local.subscriptions_user_index_name : null
}

output "subscriptions_user_index_arn" {
  description = "ARN of the subscriptions table's userId GSI, for IAM policies that Query it."
  value       = try("${aws_dynamodb_table.subscriptions[0].arn}/index/${local.subscriptions_user_index_name}", null)
}

output "topic_history_table_name" {
  description = "Name of the topic history table (the TOPIC_HISTORY_TABLE environment variable), or null when not created."
  value       = try(aws_dynamodb_table.topic_history[0].name, null)
}

output "topic_history_table_arn" {
  description = "ARN of the topic history table, for IAM policies."
  value       = try(aws_dynamodb_table.topic_history[0].arn, null)
}
