# Security safeguards (docs/security.md): token lifetime (the sweeper's schedule), client push
# limits and policy, and the on-failure destination of push's asynchronous invocations.

locals {
  sweeper_enabled = var.create && local.auth_enabled

  client_push_policy_function_arn = var.enable_client_push && var.client_push.policy == "lambda" ? var.client_push.policy_function_arn : null

  # The authorizer copies the claim naming who a sender may message into its context.
  client_push_claim = var.enable_client_push && var.client_push.policy == "claim" ? { CLIENT_PUSH_CLAIM = var.client_push.claim } : {}

  client_push_settings = var.enable_client_push ? {
    CLIENT_PUSH_POLICY             = var.client_push.policy
    CLIENT_PUSH_POLICY_FUNCTION    = local.client_push_policy_function_arn
    RATE_LIMIT_TABLE               = module.tables.rate_limits_table_name
    CLIENT_PUSH_RATE_LIMIT         = tostring(var.client_push.rate_limit)
    CLIENT_PUSH_RATE_WINDOW        = tostring(var.client_push.rate_window_seconds)
    CLIENT_MAX_RECIPIENTS          = tostring(var.client_push.max_recipients)
    CLIENT_HISTORY_MAX_TTL_SECONDS = tostring(var.client_push.history_max_ttl_seconds)
  } : {}

  async_failure_queue_arn = try(aws_sqs_queue.push_async_failures[0].arn, null)
}

# EventBridge invokes the sweeper on a rate schedule; it closes connections whose token expired.
resource "aws_cloudwatch_event_rule" "sweeper" {
  count = local.sweeper_enabled ? 1 : 0

  name                = "${var.name_prefix}-token-expiry-sweep"
  description         = "Closes WebSocket connections of ${var.name_prefix} whose token has expired."
  schedule_expression = var.token_expiry_sweep_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "sweeper" {
  count = local.sweeper_enabled ? 1 : 0

  rule = aws_cloudwatch_event_rule.sweeper[0].name
  arn  = aws_lambda_function.this["sweeper"].arn
}

data "aws_service_principal" "events" {
  service_name = "events"
}

resource "aws_lambda_permission" "sweeper_schedule" {
  count = local.sweeper_enabled ? 1 : 0

  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["sweeper"].function_name
  principal     = data.aws_service_principal.events.name
  source_arn    = aws_cloudwatch_event_rule.sweeper[0].arn
}

# Backends may invoke push asynchronously (InvocationType Event): after Lambda's retries a failed
# event lands in this queue (push's dead_letter_config, main.tf) instead of being dropped.
# Encrypted at rest: SQS-managed keys unless a customer key is given.
resource "aws_sqs_queue" "push_async_failures" {
  count = var.create ? 1 : 0

  name                              = "${var.name_prefix}-push-async-failures"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.push_async_failure_queue_kms_key_arn == null ? true : null
  kms_master_key_id                 = var.push_async_failure_queue_kms_key_arn
  kms_data_key_reuse_period_seconds = var.push_async_failure_queue_kms_key_arn == null ? null : 300
  tags                              = var.tags
}

# Two retries (Lambda's default) but a one-hour age limit instead of six: a notification that
# could not be sent within an hour is stale; it goes to the queue above.
resource "aws_lambda_function_event_invoke_config" "push" {
  count = var.create ? 1 : 0

  function_name                = aws_lambda_function.this["push"].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}
