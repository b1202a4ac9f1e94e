# The profiles table and the segment index (issue 12): keys, encryption, PITR, protection.
mock_provider "aws" {}

variables {
  name_prefix = "t"
}

run "profiles_and_segment_index_by_default" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.profiles[0].name == "t-profiles" && aws_dynamodb_table.profiles[0].hash_key == "userId" && aws_dynamodb_table.profiles[0].range_key == null
    error_message = "profiles are keyed by userId"
  }

  assert {
    condition     = aws_dynamodb_table.segment_index[0].name == "t-segment-index" && aws_dynamodb_table.segment_index[0].hash_key == "attribute" && aws_dynamodb_table.segment_index[0].range_key == "userId"
    error_message = "the segment index is keyed by attribute (<name>=<value>) and userId"
  }

  assert {
    condition = alltrue([for t in [aws_dynamodb_table.profiles[0], aws_dynamodb_table.segment_index[0]] :
    t.billing_mode == "PAY_PER_REQUEST" && length(t.server_side_encryption) == 0 && t.point_in_time_recovery[0].enabled && length(t.global_secondary_index) == 0])
    error_message = "on-demand, AWS-owned key, PITR on, no GSI"
  }

  assert {
    condition     = output.profiles_table_name == "t-profiles" && output.segment_index_table_name == "t-segment-index"
    error_message = "the names are outputs"
  }
}

run "profiles_with_customer_key_and_protection" {
  command = plan

  variables {
    kms_key_arn                          = "arn:aws:kms:eu-west-1:111122223333:key/k"
    deletion_protection                  = true
    notifications_point_in_time_recovery = false
  }

  assert {
    condition = alltrue([for t in [aws_dynamodb_table.profiles[0], aws_dynamodb_table.segment_index[0]] :
      t.server_side_encryption[0].kms_key_arn == "arn:aws:kms:eu-west-1:111122223333:key/k" && t.deletion_protection_enabled
    && !t.point_in_time_recovery[0].enabled])
    error_message = "customer key, deletion protection and PITR follow the inputs"
  }
}

run "profiles_create_false" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_dynamodb_table.profiles) == 0 && length(aws_dynamodb_table.segment_index) == 0 && output.profiles_table_name == null
    error_message = "create = false creates nothing"
  }
}
