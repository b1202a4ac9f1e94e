# The shard queue, its dead-letter queue and the event source mapping. Plan only (mocked AWS).
mock_provider "aws" {
  override_during = plan
}

override_resource {
  target          = aws_sqs_queue.dead_letters[0]
  override_during = plan
  values          = { arn = "arn:aws:sqs:eu-west-1:111122223333:ws-notify-fanout-dlq" }
}

override_resource {
  target          = aws_sqs_queue.shards[0]
  override_during = plan
  values          = { arn = "arn:aws:sqs:eu-west-1:111122223333:ws-notify-fanout" }
}

variables {
  name_prefix    = "ws-notify"
  function_arn   = "arn:aws:lambda:eu-west-1:111122223333:function:ws-notify-fanout"
  worker_timeout = 60
}

run "defaults" {
  command = plan

  assert {
    condition = (aws_sqs_queue.shards[0].visibility_timeout_seconds == 360
      && aws_sqs_queue.shards[0].sqs_managed_sse_enabled
    && aws_sqs_queue.dead_letters[0].sqs_managed_sse_enabled)
    error_message = "visibility timeout is six times the worker's timeout; both queues are encrypted (SSE-SQS)"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_policy.shards[0].redrive_policy) == { deadLetterTargetArn = "arn:aws:sqs:eu-west-1:111122223333:ws-notify-fanout-dlq", maxReceiveCount = 3 }
    error_message = "a shard failing three times goes to the dead-letter queue"
  }

  assert {
    condition     = aws_sqs_queue.dead_letters[0].message_retention_seconds == 1209600
    error_message = "dead shards are kept 14 days"
  }

  assert {
    condition = (aws_lambda_event_source_mapping.shards[0].function_response_types == toset(["ReportBatchItemFailures"])
      && aws_lambda_event_source_mapping.shards[0].batch_size == 1
      && aws_lambda_event_source_mapping.shards[0].scaling_config[0].maximum_concurrency == 10
    && aws_lambda_event_source_mapping.shards[0].event_source_arn == "arn:aws:sqs:eu-west-1:111122223333:ws-notify-fanout")
    error_message = "partial batch responses, one shard per invocation, at most 10 workers"
  }
}

run "customer_key_and_limits" {
  command = plan

  variables {
    kms_key_arn                = "arn:aws:kms:eu-west-1:111122223333:key/abcd"
    max_concurrency            = 50
    max_receive_count          = 5
    visibility_timeout_seconds = 900
  }

  assert {
    condition = (aws_sqs_queue.shards[0].kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/abcd"
      && aws_sqs_queue.shards[0].sqs_managed_sse_enabled == false
      && aws_sqs_queue.shards[0].visibility_timeout_seconds == 900
      && jsondecode(aws_sqs_queue_redrive_policy.shards[0].redrive_policy).maxReceiveCount == 5
    && aws_lambda_event_source_mapping.shards[0].scaling_config[0].maximum_concurrency == 50)
    error_message = "the customer key, the visibility timeout, the receives and the concurrency are applied"
  }
}

run "visibility_below_the_timeout_is_refused" {
  command = plan

  variables {
    visibility_timeout_seconds = 30
  }

  expect_failures = [aws_sqs_queue.shards]
}

run "create_false_creates_nothing" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_sqs_queue.shards) == 0 && length(aws_sqs_queue_redrive_policy.shards) == 0 && length(aws_lambda_event_source_mapping.shards) == 0 && output.queue_url == null
    error_message = "nothing without create"
  }
}

run "rejects_aws_out_of_range_concurrency" {
  command = plan

  variables {
    max_concurrency = 1
  }

  expect_failures = [var.max_concurrency]
}
