# User profiles and the segment index (issue 12; docs/architecture.md, "Data model"). Always
# created with the module's tables: on-demand tables cost nothing at idle, and profiles are
# stored whether or not any attribute is declared for segments.

# One item per user: attributes (a map of strings), timezone, locale, updatedAt (the version).
resource "aws_dynamodb_table" "profiles" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create ? 1 : 0

  name                        = "${var.name_prefix}-profiles"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.notifications_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.notifications_write : null
  hash_key                    = "userId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "userId"
    type = "S"
  }

  dynamic "server_side_encryption" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      enabled     = true
      kms_key_arn = server_side_encryption.value
    }
  }

  # Profiles are the consumer's user data: recoverable like the history.
  point_in_time_recovery {
    enabled = var.notifications_point_in_time_recovery
  }

  tags = var.tags
}

# One item per (declared attribute value, user): partition `<name>=<value>`, sort key userId.
# A segment resolves with one Query per listed value, never a Scan of the profiles.
resource "aws_dynamodb_table" "segment_index" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (kms_key_arn); by default the table is encrypted at rest with the AWS-owned key, which costs nothing at idle.
  count = var.create ? 1 : 0

  name                        = "${var.name_prefix}-segment-index"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.provisioned_capacity.notifications_read : null
  write_capacity              = local.provisioned ? var.provisioned_capacity.notifications_write : null
  hash_key                    = "attribute"
  range_key                   = "userId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "attribute"
    type = "S"
  }

  attribute {
    name = "userId"
    type = "S"
  }

  dynamic "server_side_encryption" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      enabled     = true
      kms_key_arn = server_side_encryption.value
    }
  }

  # Derived from the profiles, but rebuilt only when each profile is written again: recoverable.
  point_in_time_recovery {
    enabled = var.notifications_point_in_time_recovery
  }

  tags = var.tags
}

output "profiles_table_name" {
  description = "Name of the profiles table (the PROFILES_TABLE environment variable)."
  value       = try(aws_dynamodb_table.profiles[0].name, null)
}

output "profiles_table_arn" {
  description = "ARN of the profiles table, for IAM policies."
  value       = try(aws_dynamodb_table.profiles[0].arn, null)
}

output "segment_index_table_name" {
  description = "Name of the segment index table (the SEGMENT_INDEX_TABLE environment variable)."
  value       = try(aws_dynamodb_table.segment_index[0].name, null)
}

output "segment_index_table_arn" {
  description = "ARN of the segment index table, for IAM policies."
  value       = try(aws_dynamodb_table.segment_index[0].arn, null)
}
