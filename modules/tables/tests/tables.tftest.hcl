# Unit tests of the tables module: keys, GSI, TTL, encryption, PITR and switches.
mock_provider "aws" {}

variables {
  name_prefix = "t"
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.connections[0].name == "t-connections" && aws_dynamodb_table.connections[0].hash_key == "connectionId"
    error_message = "connections table is keyed by connectionId"
  }

  assert {
    condition = toset([for g in aws_dynamodb_table.connections[0].global_secondary_index : {
      name = g.name, hash_key = g.hash_key, range_key = g.range_key, projection_type = g.projection_type
      }]) == toset([
      { name = "userId-index", hash_key = "userId", range_key = null, projection_type = "INCLUDE" },
      { name = "tokenExpiresAt-index", hash_key = "sweepShard", range_key = "tokenExpiresAt", projection_type = "KEYS_ONLY" },
    ])
    error_message = "connections needs the userId-index GSI (with tokenExpiresAt) and the KEYS_ONLY expiry index"
  }

  assert {
    condition     = aws_dynamodb_table.connections[0].ttl[0].enabled && aws_dynamodb_table.connections[0].ttl[0].attribute_name == "expiresAt"
    error_message = "connections rows expire by TTL on expiresAt"
  }

  assert {
    condition = (aws_dynamodb_table.notifications[0].hash_key == "userId"
    && aws_dynamodb_table.notifications[0].range_key == "notificationId")
    error_message = "notifications are keyed by userId + notificationId"
  }

  assert {
    condition     = aws_dynamodb_table.notifications[0].ttl[0].enabled && aws_dynamodb_table.notifications[0].ttl[0].attribute_name == "expiresAt"
    error_message = "notifications expire by TTL on expiresAt"
  }

  assert {
    condition     = aws_dynamodb_table.connections[0].billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.notifications[0].billing_mode == "PAY_PER_REQUEST"
    error_message = "on-demand billing by default"
  }

  assert {
    condition     = aws_dynamodb_table.notifications[0].point_in_time_recovery[0].enabled && !aws_dynamodb_table.connections[0].point_in_time_recovery[0].enabled
    error_message = "PITR on for notifications, off for connections by default"
  }

  # DynamoDB always encrypts at rest. No block = the AWS-owned key (free); `enabled = true` without
  # a key would select the AWS-managed aws/dynamodb key, billed per KMS request.
  assert {
    condition     = length(aws_dynamodb_table.connections[0].server_side_encryption) == 0 && length(aws_dynamodb_table.notifications[0].server_side_encryption) == 0
    error_message = "without a customer key the tables use the AWS-owned key, not the AWS-managed one"
  }

  assert {
    condition     = !aws_dynamodb_table.connections[0].deletion_protection_enabled
    error_message = "deletion protection off by default"
  }

  assert {
    condition     = output.connections_user_index_name == "userId-index"
    error_message = "index name output"
  }
}

run "customer_key_protection_and_provisioned" {
  command = plan

  variables {
    kms_key_arn                          = "arn:aws:kms:eu-west-1:111122223333:key/k"
    deletion_protection                  = true
    billing_mode                         = "PROVISIONED"
    connections_point_in_time_recovery   = true
    notifications_point_in_time_recovery = false
  }

  assert {
    condition = alltrue([for t in [aws_dynamodb_table.connections[0], aws_dynamodb_table.notifications[0]] :
    t.server_side_encryption[0].enabled && t.server_side_encryption[0].kms_key_arn == "arn:aws:kms:eu-west-1:111122223333:key/k"])
    error_message = "customer key is used on both tables"
  }

  assert {
    condition     = aws_dynamodb_table.connections[0].deletion_protection_enabled && aws_dynamodb_table.notifications[0].deletion_protection_enabled
    error_message = "deletion protection switch"
  }

  assert {
    condition     = aws_dynamodb_table.connections[0].read_capacity == 5 && alltrue([for g in aws_dynamodb_table.connections[0].global_secondary_index : g.write_capacity == 5])
    error_message = "provisioned capacity is set on table and index"
  }

  assert {
    condition     = aws_dynamodb_table.connections[0].point_in_time_recovery[0].enabled && !aws_dynamodb_table.notifications[0].point_in_time_recovery[0].enabled
    error_message = "PITR follows the input"
  }
}

run "create_false" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_dynamodb_table.connections) == 0 && length(aws_dynamodb_table.notifications) == 0 && output.connections_table_name == null
    error_message = "create = false creates nothing"
  }
}

run "rejects_bad_billing_mode" {
  command = plan

  variables {
    billing_mode = "ON_DEMAND"
  }

  expect_failures = [var.billing_mode]
}

run "rejects_bad_kms_key" {
  command = plan

  variables {
    kms_key_arn = "alias/mine"
  }

  expect_failures = [var.kms_key_arn]
}

run "rate_limits_table_on_request" {
  command = plan

  variables {
    create_rate_limits_table = true
  }

  assert {
    condition     = aws_dynamodb_table.rate_limits[0].hash_key == "bucket" && aws_dynamodb_table.rate_limits[0].ttl[0].attribute_name == "expiresAt" && aws_dynamodb_table.rate_limits[0].ttl[0].enabled
    error_message = "rate limit windows are keyed by bucket and expire by TTL"
  }
}

run "no_rate_limits_table_by_default" {
  command = plan

  assert {
    condition     = length(aws_dynamodb_table.rate_limits) == 0 && output.rate_limits_table_name == null
    error_message = "no rate limit table unless asked"
  }
}

run "topics_tables_on_request" {
  command = plan

  variables {
    create_topics_tables = true
    kms_key_arn          = "arn:aws:kms:eu-west-1:111122223333:key/abc"
    deletion_protection  = true
  }

  assert {
    condition = (aws_dynamodb_table.subscriptions[0].name == "t-subscriptions"
      && aws_dynamodb_table.subscriptions[0].hash_key == "topic" && aws_dynamodb_table.subscriptions[0].range_key == "userId"
      && [for g in aws_dynamodb_table.subscriptions[0].global_secondary_index : [g.name, g.hash_key, g.range_key, g.projection_type]] == [["userId-index", "userId", "topic", "KEYS_ONLY"]]
    && output.subscriptions_user_index_name == "userId-index")
    error_message = "subscriptions: topic + userId, and a KEYS_ONLY userId-index ranged by topic"
  }

  assert {
    condition = (aws_dynamodb_table.topic_history[0].name == "t-topic-history"
      && aws_dynamodb_table.topic_history[0].hash_key == "topic" && aws_dynamodb_table.topic_history[0].range_key == "notificationId"
    && aws_dynamodb_table.topic_history[0].ttl[0].enabled && aws_dynamodb_table.topic_history[0].ttl[0].attribute_name == "expiresAt")
    error_message = "topic history: topic + notificationId, TTL on expiresAt"
  }

  assert {
    condition = alltrue([for t in [aws_dynamodb_table.subscriptions[0], aws_dynamodb_table.topic_history[0]] :
      t.billing_mode == "PAY_PER_REQUEST" && t.point_in_time_recovery[0].enabled && t.deletion_protection_enabled
    && t.server_side_encryption[0].kms_key_arn == "arn:aws:kms:eu-west-1:111122223333:key/abc"])
    error_message = "on demand, PITR, deletion protection and the customer key like the history table"
  }
}

run "no_topics_tables_by_default" {
  command = plan

  assert {
    condition     = length(aws_dynamodb_table.subscriptions) == 0 && length(aws_dynamodb_table.topic_history) == 0 && output.subscriptions_table_name == null
    error_message = "the module creates the topic tables only when asked (the root module asks by default)"
  }
}
