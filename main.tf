data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  jwt_secret_parameter_name = coalesce(var.auth.jwt_secret_parameter_name, "/${var.name_prefix}/jwt-secret")
  uses_ssm_secret           = local.auth_enabled && var.auth.mode == "hs256"
  jwt_secret_parameter_arn = local.uses_ssm_secret ? join(":", [
    "arn", data.aws_partition.current.partition, "ssm", data.aws_region.current.name,
    data.aws_caller_identity.current.account_id, "parameter/${trimprefix(local.jwt_secret_parameter_name, "/")}",
  ]) : null

  # users and me serve the HTTP API (http.tf); me needs a user identity, so authentication.
  # users also keeps the user profiles (direct invoke), so it exists with or without the API.
  # With authentication, refresh and sweeper keep connections within their token's lifetime.
  function_names = toset(concat(
    ["connect", "disconnect", "push", "poll", "users"],
    local.auth_enabled ? ["authorizer", "refresh", "sweeper"] : [],
    var.create_http_api && local.auth_enabled ? ["me"] : [],
    length(var.mobile_push.platform_applications) > 0 ? ["devices"] : [],
    var.topics.enabled ? ["topics"] : [],
    var.scheduling.enabled ? ["schedules"] : [],
    var.fanout.enabled ? ["fanout"] : [],
  ))
  functions = var.create ? local.function_names : toset([])

  tables = {
    CONNECTIONS_TABLE      = module.tables.connections_table_name
    CONNECTIONS_USER_INDEX = module.tables.connections_user_index_name
    NOTIFICATIONS_TABLE    = module.tables.notifications_table_name
  }
  log_level = { LOG_LEVEL = var.log_level }

  # Only the settings each function reads (docs/architecture.md). Nulls are dropped below.
  environment = {
    connect = merge(local.tables, local.log_level, {
      AUTH_MODE              = var.auth.mode
      CONNECTION_TTL_SECONDS = tostring(var.connection_ttl_seconds)
    })
    disconnect = merge(local.tables, local.log_level)
    push = merge(local.tables, local.log_level, {
      CONNECTIONS_ENDPOINT       = module.websocket_api.management_endpoint
      ALLOW_CLIENT_PUSH          = tostring(var.enable_client_push)
      ALLOW_BROADCAST            = tostring(var.enable_broadcast)
      PERSIST_DEFAULT            = tostring(var.persist_by_default)
      HISTORY_TTL_SECONDS        = tostring(var.history_ttl_seconds)
      HISTORY_MAX_TTL_SECONDS    = tostring(var.history_max_ttl_seconds)
      SEND_CONCURRENCY           = tostring(var.push_send_concurrency)
      BROADCAST_SCAN_SEGMENTS    = tostring(var.broadcast_scan_segments)
      IDEMPOTENCY_WINDOW_SECONDS = tostring(var.idempotency_window_seconds)
    }, local.client_push_settings, local.mobile_environment, local.topics_push_environment, local.profiles_environment, local.scheduling_environment, local.fanout_push_environment)
    devices   = merge(local.log_level, local.mobile_environment)
    schedules = local.schedules_function_environment
    fanout    = local.fanout_environment
    poll = merge(local.tables, local.log_level, {
      CONNECTIONS_ENDPOINT  = module.websocket_api.management_endpoint
      SEND_CONCURRENCY      = tostring(var.push_send_concurrency)
      POLL_LOOKBACK_SECONDS = tostring(var.poll_lookback_seconds)
    }, local.topics_push_environment)
    users = merge(local.tables, local.log_level, {
      CONNECTIONS_ENDPOINT = module.websocket_api.management_endpoint
      SEND_CONCURRENCY     = tostring(var.push_send_concurrency)
      ADMIN_PRINCIPAL_ARNS = length(var.http_api.admin_principal_arns) > 0 ? join(",", var.http_api.admin_principal_arns) : null
    }, local.profiles_environment)
    me = merge(local.log_level, {
      NOTIFICATIONS_TABLE = module.tables.notifications_table_name
    }, local.topics_push_environment)
    authorizer = merge(local.log_level, local.token_verification, local.client_push_claim, local.topics_claim_environment)
    topics = merge(local.tables, local.log_level, {
      CONNECTIONS_ENDPOINT = module.websocket_api.management_endpoint
      SEND_CONCURRENCY     = tostring(var.push_send_concurrency)
    }, local.topics_environment)
    refresh = merge(local.tables, local.log_level, local.token_verification, {
      CONNECTIONS_ENDPOINT = module.websocket_api.management_endpoint
      SEND_CONCURRENCY     = tostring(var.push_send_concurrency)
    })
    sweeper = merge(local.tables, local.log_level, {
      CONNECTIONS_ENDPOINT     = module.websocket_api.management_endpoint
      CONNECTIONS_EXPIRY_INDEX = module.tables.connections_expiry_index_name
      SEND_CONCURRENCY         = tostring(var.push_send_concurrency)
    })
  }

  # What the authorizer (at $connect) and refresh (later) verify tokens with.
  token_verification = {
    AUTH_MODE            = var.auth.mode
    JWT_SECRET_PARAMETER = local.uses_ssm_secret ? local.jwt_secret_parameter_name : null
    JWKS_URL             = var.auth.mode == "jwks" ? var.auth.jwks_url : null
    JWT_ISSUER           = var.auth.issuer
    JWT_AUDIENCE         = var.auth.audience
    JWT_TOKEN_USE        = var.auth.token_use
    JWT_ALGORITHMS       = var.auth.algorithms == null ? null : join(",", var.auth.algorithms)
    JWT_LEEWAY_SECONDS   = tostring(var.auth.leeway_seconds)
    SECRET_CACHE_SECONDS = tostring(var.auth.cache_seconds)
  }

  memory_size = { for f in local.function_names : f => f == "push" ? var.push_memory_size : f == "fanout" ? var.fanout.memory_size : var.lambda_memory_size }
  timeout     = { for f in local.function_names : f => f == "push" ? var.push_timeout : f == "fanout" ? var.fanout.timeout : var.lambda_timeout }

  authorizer_layers = concat(aws_lambda_layer_version.authorizer[*].arn, var.authorizer_layer_arns)
}

module "tables" {
  source = "./modules/tables"

  create                               = var.create
  name_prefix                          = var.name_prefix
  billing_mode                         = var.table_billing_mode
  kms_key_arn                          = var.table_kms_key_arn
  connections_point_in_time_recovery   = var.connections_point_in_time_recovery
  notifications_point_in_time_recovery = var.notifications_point_in_time_recovery
  deletion_protection                  = var.deletion_protection
  create_rate_limits_table             = var.enable_client_push
  create_devices_table                 = length(var.mobile_push.platform_applications) > 0
  create_topics_tables                 = var.topics.enabled
  create_schedules_table               = var.scheduling.enabled
  create_jobs_table                    = var.fanout.enabled
  tags                                 = var.tags
}

module "iam" {
  source = "./modules/iam"

  # The ARN inputs are required strings; with create = false the tables and API do not exist,
  # their outputs are null, and the module creates nothing that would read the placeholder.
  create                          = var.create
  name_prefix                     = var.name_prefix
  create_authorizer_role          = local.auth_enabled
  http_api_functions              = [for f in ["users", "me"] : f if contains(local.function_names, f)]
  mobile_push                     = length(var.mobile_push.platform_applications) > 0
  devices_table_arn               = module.tables.devices_table_arn
  devices_user_index_arn          = module.tables.devices_user_index_arn
  topics                          = var.topics.enabled
  subscriptions_table_arn         = module.tables.subscriptions_table_arn
  subscriptions_user_index_arn    = module.tables.subscriptions_user_index_arn
  topic_history_table_arn         = module.tables.topic_history_table_arn
  profiles_table_arn              = module.tables.profiles_table_arn
  segment_index_table_arn         = module.tables.segment_index_table_arn
  grant_connection_lookup         = !local.auth_enabled
  region                          = data.aws_region.current.name
  connections_table_arn           = coalesce(module.tables.connections_table_arn, "-")
  connections_user_index_arn      = coalesce(module.tables.connections_user_index_arn, "-")
  connections_expiry_index_arn    = coalesce(module.tables.connections_expiry_index_arn, "-")
  rate_limits_table_arn           = module.tables.rate_limits_table_arn
  client_push_policy_function_arn = local.client_push_policy_function_arn
  async_failure_queue_arn         = local.async_failure_queue_arn
  async_failure_queue_kms_key_arn = var.push_async_failure_queue_kms_key_arn
  notifications_table_arn         = coalesce(module.tables.notifications_table_arn, "-")
  table_kms_key_arn               = var.table_kms_key_arn
  api_execution_arn               = coalesce(module.websocket_api.execution_arn, "-")
  stage_name                      = var.stage_name
  enable_broadcast                = var.enable_broadcast
  jwt_secret_parameter_arn        = local.jwt_secret_parameter_arn
  jwt_secret_kms_key_arn          = var.auth.jwt_secret_kms_key_arn
  log_group_arns                  = { for f, group in aws_cloudwatch_log_group.function : f => group.arn }
  tracing_enabled                 = var.tracing_enabled
  permissions_boundary_arn        = var.permissions_boundary_arn
  tags                            = var.tags
  scheduling                      = local.iam_scheduling
  fanout                          = var.fanout.enabled
  jobs_table_arn                  = module.tables.jobs_table_arn
  fanout_queue_arn                = module.fanout.queue_arn
  fanout_queue_kms_key_arn        = var.fanout.queue_kms_key_arn
}

# Region-wide, so only on request (README: "Stage logging and the Region's API Gateway role").
module "api_gateway_account" {
  source = "./modules/api-gateway-account"

  create                   = var.create && var.create_api_gateway_account_role
  name                     = "${var.name_prefix}-apigw-logs"
  permissions_boundary_arn = var.permissions_boundary_arn
  tags                     = var.tags
}

moved {
  from = module.websocket_api.aws_iam_role.account_cloudwatch
  to   = module.api_gateway_account.aws_iam_role.this
}

moved {
  from = module.websocket_api.aws_iam_role_policy_attachment.account_cloudwatch
  to   = module.api_gateway_account.aws_iam_role_policy_attachment.this
}

moved {
  from = module.websocket_api.aws_api_gateway_account.this
  to   = module.api_gateway_account.aws_api_gateway_account.this
}

module "websocket_api" {
  source = "./modules/websocket-api"

  create                     = var.create
  name                       = var.name_prefix
  stage_name                 = var.stage_name
  functions                  = { for f, fn in aws_lambda_function.this : f => { function_name = fn.function_name, invoke_arn = fn.invoke_arn } }
  enable_authorizer          = local.auth_enabled
  authorizer_identity_source = var.auth.identity_source
  create_push_route          = var.enable_client_push
  create_refresh_route       = local.auth_enabled
  create_topic_routes        = var.topics.enabled
  route_throttling           = var.route_throttling
  auto_deploy                = var.websocket_auto_deploy
  throttling_burst_limit     = var.throttling_burst_limit
  throttling_rate_limit      = var.throttling_rate_limit
  logging_level              = var.api_logging_level
  enable_access_logs         = var.enable_websocket_access_logs
  log_retention_days         = var.log_retention_days
  log_kms_key_arn            = var.log_kms_key_arn
  # Derived from the account setting's resource when this stack creates it, so the stage waits.
  account_logging_role_ready = var.api_gateway_account_role_exists || module.api_gateway_account.cloudwatch_role_arn != null
  tags                       = var.tags
}

# Created before the functions so that retention and encryption apply from the first log line
# (otherwise Lambda creates the group itself, with infinite retention).
resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Retention is a cost decision left to the consumer (log_retention_days, default 30 days); one year is available.
  #checkov:skip=CKV_AWS_158:A KMS key is optional (log_kms_key_arn); CloudWatch Logs encrypts at rest by default.
  for_each = local.functions

  name              = "/aws/lambda/${var.name_prefix}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The functions call only public AWS endpoints (DynamoDB, execute-api, SSM); a VPC would add NAT or endpoint cost at idle without reducing exposure.
  #checkov:skip=CKV_AWS_272:The zip is built from this repository by Terraform at plan time; code signing needs a Signer profile and a signing pipeline the consumer does not have here.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is opt-in per function (reserved_concurrency); reserving by default would carve capacity out of the account's shared pool.
  #checkov:skip=CKV_AWS_173:Environment variables hold table names, URLs and limits, never secrets (the JWT secret stays in SSM); a customer key is available through lambda_kms_key_arn.
  for_each = local.functions

  function_name    = "${var.name_prefix}-${each.key}"
  description      = "${each.key} function of the ${var.name_prefix} WebSocket notifications."
  role             = module.iam.role_arns[each.key]
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  handler          = "${each.key}.handler"
  filename         = data.archive_file.functions[0].output_path
  source_code_hash = data.archive_file.functions_hash[0].output_base64sha256
  memory_size      = local.memory_size[each.key]
  timeout          = local.timeout[each.key]
  layers           = contains(["authorizer", "refresh"], each.key) ? local.authorizer_layers : null
  kms_key_arn      = var.lambda_kms_key_arn

  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)

  environment {
    variables = { for k, v in local.environment[each.key] : k => v if v != null }
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  # push may be invoked asynchronously by backends (InvocationType Event): an event that still
  # fails after Lambda's retries goes to an encrypted SQS queue instead of being dropped. The
  # other functions are only ever invoked synchronously (API Gateway, RequestResponse) or, for the
  # sweeper, by a schedule whose next run does the same work, so a queue would stay empty.
  dynamic "dead_letter_config" {
    for_each = each.key == "push" ? [aws_sqs_queue.push_async_failures[0].arn] : []
    content {
      target_arn = dead_letter_config.value
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.history_ttl_seconds <= var.history_max_ttl_seconds
      error_message = "history_ttl_seconds must not exceed history_max_ttl_seconds."
    }
    # Cross-variable checks live here: variable validations may refer to other variables only
    # from Terraform 1.9 on, and the module supports 1.7.
    precondition {
      condition     = !(var.create_api_gateway_account_role && var.api_gateway_account_role_exists)
      error_message = "Set create_api_gateway_account_role or api_gateway_account_role_exists, not both: the first makes this stack own the Region's setting, the second says another stack does."
    }
  }

  depends_on = [aws_cloudwatch_log_group.function]
}
