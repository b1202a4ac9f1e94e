locals {
  provisioned = var.billing_mode == "PROVISIONED"
  # Fixed by docs/architecture.md (CONNECTIONS_USER_INDEX default): not an input.
  user_index_name   = "userId-index"
  expiry_index_name = "tokenExpiresAt-index"
  # Fixed by docs/architecture.md (DEVICES_USER_INDEX default).
  devices_user_index_name = "userId-index"
}

# Live WebSocket connections. Rows are written at $connect and removed at $disconnect; because
# $disconnect is best effort, every row also carries expiresAt so DynamoDB TTL reaps leftovers.
resource "aws_dynamodb_table" "connections" {
  #checkov:skip=CKV_AWS_28:Rows live at most ~2 hours (API Gateway's connection limit) and clients rebuild them by reconnecting; PITR is configurable (connections_point_in_time_recovery).
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create ? 1 : 0

  name                        = "${var.name_prefix}-connections"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.connections_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.connections_write : null
  hash_key                    = "connectionId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "connectionId"
    type = "S"
  }

  attribute {
    name = "userId"
    type = "S"
  }

  attribute {
    name = "sweepShard"
    type = "S"
  }

  attribute {
    name = "tokenExpiresAt"
    type = "N"
  }

  # Fan-out reads the connection ids of one user and the token expiry, so that it never
  # delivers to a connection whose token has expired.
  global_secondary_index {
    name               = local.user_index_name
    hash_key           = "userId"
    projection_type    = "INCLUDE"
    non_key_attributes = ["tokenExpiresAt"]
    read_capacity      = local.provisioned ? var.provisioned_capacity.index_read : null
    write_capacity     = local.provisioned ? var.provisioned_capacity.index_write : null
  }

  # The sweeper finds connections whose token expired with a Query per shard
  # (tokenExpiresAt <= now), never a Scan. Sparse: rows without a token expiry are not in it.
  global_secondary_index {
    name            = local.expiry_index_name
    hash_key        = "sweepShard"
    range_key       = "tokenExpiresAt"
    projection_type = "KEYS_ONLY"
    read_capacity   = local.provisioned ? var.provisioned_capacity.index_read : null
    write_capacity  = local.provisioned ? var.provisioned_capacity.index_write : null
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  # Without a customer key the block is left out: DynamoDB then encrypts with the AWS-owned key
  # (free). `enabled = true` with no key would select the AWS-managed aws/dynamodb KMS key, which
  # bills a KMS request per table access.
  dynamic "server_side_encryption" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      enabled     = true
      kms_key_arn = server_side_encryption.value
    }
  }

  point_in_time_recovery {
    enabled = var.connections_point_in_time_recovery
  }

  tags = var.tags
}

# Notification history: one partition per user, ULID sort key (time-ordered), TTL on expiresAt.
resource "aws_dynamodb_table" "notifications" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create ? 1 : 0

  name                        = "${var.name_prefix}-notifications"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.notifications_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.notifications_write : null
  hash_key                    = "userId"
  range_key                   = "notificationId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "userId"
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

  # Without a customer key the block is left out: DynamoDB then encrypts with the AWS-owned key
  # (free). `enabled = true` with no key would select the AWS-managed aws/dynamodb KMS key, which
  # bills a KMS request per table access.
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

# Per-user rate limit windows of client pushes: one counter item per user and window, removed by
# TTL shortly after its window ends. Only created when client push is enabled.
resource "aws_dynamodb_table" "rate_limits" {
  #checkov:skip=CKV_AWS_28:Counters live one window (a minute) and are worthless after it; there is nothing to recover.
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create && var.create_rate_limits_table ? 1 : 0

  name                        = "${var.name_prefix}-rate-limits"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.connections_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.connections_write : null
  hash_key                    = "bucket"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "bucket"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = false
  }

  tags = var.tags
}

# Device registry of mobile push: one row per device token (a token belongs to one user at a
# time, so a token registered by another user moves), with its SNS endpoint ARN. Push reads a
# user's devices through the userId index (all attributes projected: a handful per user).
resource "aws_dynamodb_table" "devices" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create && var.create_devices_table ? 1 : 0

  name                        = "${var.name_prefix}-devices"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.connections_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.connections_write : null
  hash_key                    = "token"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "token"
    type = "S"
  }

  attribute {
    name = "userId"
    type = "S"
  }

  global_secondary_index {
    name            = local.devices_user_index_name
    hash_key        = "userId"
    projection_type = "ALL"
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

  # Registrations are user data that apps cannot always rebuild at once (a device registers
  # when the app starts): recoverable like the history.
  point_in_time_recovery {
    enabled = var.notifications_point_in_time_recovery
  }

  tags = var.tags
}
