# Sharded fan-out jobs: the shard queue and its DLQ, the event source mapping, the fanout function
# and the least-privilege grants of push and fanout. Plan only, against a mocked AWS provider.
mock_provider "aws" {
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_service_principal" {
    defaults = { name = "lambda.amazonaws.com" }
  }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.profiles[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-profiles", name = "ws-notify-profiles" }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.segment_index[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-segment-index", name = "ws-notify-segment-index" }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.subscriptions[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-subscriptions", name = "ws-notify-subscriptions" }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.topic_history[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-topic-history", name = "ws-notify-topic-history" }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.devices[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-devices", name = "ws-notify-devices" }
}

override_resource {
  target          = module.websocket_api.aws_apigatewayv2_api.this[0]
  override_during = plan
  values = {
    id            = "abc123"
    execution_arn = "arn:aws:execute-api:eu-west-1:111122223333:abc123"
    api_endpoint  = "wss://abc123.execute-api.eu-west-1.amazonaws.com"
  }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.connections[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-connections" }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.notifications[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-notifications" }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.jobs[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-jobs", name = "ws-notify-jobs" }
}

override_resource {
  target          = module.fanout.aws_sqs_queue.shards[0]
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:111122223333:ws-notify-fanout"
    url = "https://sqs.eu-west-1.amazonaws.com/111122223333/ws-notify-fanout"
  }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.rate_limits[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-rate-limits", name = "ws-notify-rate-limits" }
}

override_resource {
  target          = aws_sqs_queue.push_async_failures[0]
  override_during = plan
  values          = { arn = "arn:aws:sqs:eu-west-1:111122223333:ws-notify-push-async-failures" }
}

override_resource {
  target          = aws_cloudwatch_log_group.function
  override_during = plan
  values          = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:fn" }
}

override_resource {
  target          = aws_lambda_function.this
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:ws-notify-fanout" }
}


run "fanout_on_by_default" {
  command = plan

  variables {
    enable_broadcast = true
  }

  assert {
    condition     = module.fanout.queue_url != null && aws_lambda_function.this["fanout"].timeout == 60 && aws_lambda_function.this["fanout"].memory_size == 512
    error_message = "the fanout worker exists by default (60 s, 512 MB)"
  }

  assert {
    condition = aws_lambda_function.this["fanout"].environment[0].variables == tomap({
      CONNECTIONS_TABLE      = "ws-notify-connections"
      CONNECTIONS_USER_INDEX = "userId-index"
      JOBS_TABLE             = "ws-notify-jobs"
      CONNECTIONS_ENDPOINT   = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
      SEND_CONCURRENCY       = "32"
      MAX_RECEIVE_COUNT      = "3"
      LOG_LEVEL              = "INFO"
    })
    error_message = "fanout environment per docs/architecture.md"
  }

  assert {
    condition = toset([for s in jsondecode(module.iam.policy_documents["fanout"]).Statement : join(",", concat([s.Sid], s.Action))]) == toset([
      "ReceiveShards,sqs:ReceiveMessage,sqs:DeleteMessage,sqs:GetQueueAttributes",
      "RecordShards,dynamodb:GetItem,dynamodb:UpdateItem,dynamodb:PutItem",
      "FindUserConnections,dynamodb:Query",
      "PruneStaleConnections,dynamodb:DeleteItem",
      "PostToConnections,execute-api:ManageConnections",
      "BroadcastScan,dynamodb:Scan",
      "WriteOwnLogs,logs:CreateLogStream,logs:PutLogEvents",
    ])
    error_message = "the fanout role may do exactly what the worker needs"
  }

  assert {
    condition = (contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid = "EnqueueShards", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = ["arn:aws:sqs:eu-west-1:111122223333:ws-notify-fanout"]
      }) && contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid = "TrackJobs", Effect = "Allow", Action = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"], Resource = ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-jobs"]
    }))
    error_message = "push may enqueue shards on its queue and track jobs in its table, nothing wider"
  }
}

run "customer_key_and_limits" {
  command = plan

  variables {
    create_http_api = true
    fanout = {
      queue_kms_key_arn          = "arn:aws:kms:eu-west-1:111122223333:key/abcd"
      max_concurrency            = 50
      max_receive_count          = 5
      timeout                    = 120
      visibility_timeout_seconds = 900
    }
  }

  assert {
    condition     = contains([for s in jsondecode(module.iam.policy_documents["fanout"]).Statement : s.Sid], "ShardQueueKey") && contains([for s in jsondecode(module.iam.policy_documents["push"]).Statement : s.Sid], "ShardQueueKey")
    error_message = "both roles may use the queue's customer key"
  }

  assert {
    condition     = contains(keys(aws_apigatewayv2_route.http), "GET /v1/notifications/{notificationId}") && contains(keys(aws_apigatewayv2_route.http), "DELETE /v1/notifications/{notificationId}")
    error_message = "job progress and cancel routes on the HTTP API"
  }
}

run "fanout_off" {
  command = plan

  variables {
    create_http_api = true
    fanout          = { enabled = false }
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this), "fanout") && module.fanout.queue_url == null && module.tables.jobs_table_name == null && !can(aws_lambda_function.this["push"].environment[0].variables.JOBS_TABLE)
    error_message = "without fan-out jobs there is no queue, table, worker or push setting"
  }

  assert {
    condition     = !contains(keys(aws_apigatewayv2_route.http), "GET /v1/notifications/{notificationId}")
    error_message = "no job routes without jobs"
  }
}

run "rejects_out_of_range_fanout_settings" {
  command = plan

  variables {
    fanout = { max_concurrency = 1, shard_size = 5000 }
  }

  expect_failures = [var.fanout]
}
