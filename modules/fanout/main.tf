# The queue of sharded fan-out jobs (docs/architecture.md, "Fan-out jobs"): push sends one message
# per shard, Lambda's SQS poller hands them to the fanout function (partial batch responses), a
# shard that keeps failing moves to the dead-letter queue after max_receive_count receives.

locals {
  # AWS: at least six times the function's timeout (plus the batching window, 0 here), so a
  # message is not handed to a second worker while the first is still sending it.
  visibility_timeout = coalesce(var.visibility_timeout_seconds, 6 * var.worker_timeout)
  sse_managed        = var.kms_key_arn == null
}

resource "aws_sqs_queue" "dead_letters" {
  count = var.create ? 1 : 0

  name = "${var.name_prefix}-fanout-dlq"
  # The longest SQS keeps anything: time to inspect a poison shard and redrive it.
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = local.sse_managed ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse_managed ? null : 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "shards" {
  count = var.create ? 1 : 0

  name                       = "${var.name_prefix}-fanout"
  visibility_timeout_seconds = local.visibility_timeout
  # A shard not delivered within a day is stale news; the job reports what was not delivered.
  message_retention_seconds         = 86400
  sqs_managed_sse_enabled           = local.sse_managed ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse_managed ? null : 300
  tags                              = var.tags

  lifecycle {
    precondition {
      condition     = local.visibility_timeout >= var.worker_timeout
      error_message = "fanout.visibility_timeout_seconds must be at least the worker's timeout (AWS recommends 6x)."
    }
  }
}

# The redrive policy is its own resource so both queues are created at the same time: the aws
# provider waits about 25 s after creating a queue for its attributes to settle, and the inline
# policy made the shard queue, which the functions' environment names, wait for the dead-letter
# queue first. The functions now get the queue 25 s sooner; this resource waits its own 25 s in
# parallel with them. The event source mapping waits for it: no shard is received before a
# failing one has somewhere to go.
resource "aws_sqs_queue_redrive_policy" "shards" {
  count = var.create ? 1 : 0

  queue_url = aws_sqs_queue.shards[0].id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letters[0].arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Created after the worker's role policy (worker_policy_ready): Lambda checks at creation that the
# role may receive from the queue.
resource "terraform_data" "worker_policy_ready" {
  count = var.create ? 1 : 0

  input = var.worker_policy_ready
}

resource "aws_lambda_event_source_mapping" "shards" {
  count = var.create ? 1 : 0

  event_source_arn        = aws_sqs_queue.shards[0].arn
  function_name           = var.function_arn
  batch_size              = var.batch_size
  function_response_types = ["ReportBatchItemFailures"]
  enabled                 = true

  # Lambda's own cap on concurrent shard workers for this queue (reserved concurrency would
  # throttle the poller instead, which counts receives towards the DLQ).
  scaling_config {
    maximum_concurrency = var.max_concurrency
  }

  depends_on = [terraform_data.worker_policy_ready, aws_sqs_queue_redrive_policy.shards]
}
