# Unit tests of the root module: packaging, functions and their settings, wiring of the
# submodules, switches and input validation. Plan only, against a mocked AWS provider; the
# archive provider is real (or the offline stand-in from scripts/tf-env.sh), so the zip of
# functions/ is really built.
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

# Profiles and segments (tests/profiles.tftest.hcl): their ARNs are in the push and users policies.
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

run "defaults" {
  command = plan

  assert {
    condition     = toset(keys(aws_lambda_function.this)) == toset(["connect", "disconnect", "push", "poll", "users", "authorizer", "refresh", "sweeper", "topics", "schedules", "fanout"])
    error_message = "eleven functions with authentication, topics, scheduling and fan-out jobs on by default (users keeps the profiles)"
  }

  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : f.handler == "${k}.handler" && f.function_name == "ws-notify-${k}"])
    error_message = "handler strings follow docs/architecture.md"
  }

  assert {
    condition = alltrue([for f in aws_lambda_function.this :
      f.source_code_hash == data.archive_file.functions_hash[0].output_base64sha256
    && f.runtime == "python3.12" && f.architectures == tolist(["arm64"])])
    error_message = "one zip serves every function, hashed, on arm64 / python3.12"
  }

  # Known at plan and made of pinned inputs only: no timestamp(), no dependency on build/.
  assert {
    condition = (terraform_data.authorizer_layer[0].triggers_replace.runtime == "python3.12"
      && terraform_data.authorizer_layer[0].triggers_replace.architecture == "arm64"
      && terraform_data.authorizer_layer[0].triggers_replace.requirements == filesha256("functions/requirements.txt")
    && !can(terraform_data.authorizer_layer[0].triggers_replace.build))
    error_message = "the layer is rebuilt only when its pinned inputs change"
  }

  assert {
    condition     = data.archive_file.functions[0].output_file_mode == "0644" && contains(data.archive_file.functions[0].excludes, "**/__pycache__/**") && contains(data.archive_file.functions[0].excludes, "**/*.pyc") && contains(data.archive_file.functions[0].excludes, "tests/**")
    error_message = "deterministic zip without caches or tests"
  }

  assert {
    condition     = startswith(data.archive_file.functions[0].output_path, "./build/ws-notify/") || startswith(data.archive_file.functions[0].output_path, "build/ws-notify/")
    error_message = "the zip is written to the git-ignored build folder"
  }

  assert {
    condition = aws_lambda_function.this["push"].environment[0].variables == tomap({
      CONNECTIONS_TABLE          = "ws-notify-connections"
      CONNECTIONS_USER_INDEX     = "userId-index"
      NOTIFICATIONS_TABLE        = "ws-notify-notifications"
      CONNECTIONS_ENDPOINT       = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
      ALLOW_CLIENT_PUSH          = "false"
      ALLOW_BROADCAST            = "false"
      PERSIST_DEFAULT            = "true"
      HISTORY_TTL_SECONDS        = "604800"
      HISTORY_MAX_TTL_SECONDS    = "2592000"
      SEND_CONCURRENCY           = "32"
      BROADCAST_SCAN_SEGMENTS    = "4"
      IDEMPOTENCY_WINDOW_SECONDS = "86400"
      LOG_LEVEL                  = "INFO"
      SUBSCRIPTIONS_TABLE        = "ws-notify-subscriptions"
      TOPIC_HISTORY_TABLE        = "ws-notify-topic-history"
      TOPIC_NAMESPACES           = jsonencode({ "" = { self_subscribe = false, history = true, history_ttl_seconds = 604800 } })
      PROFILES_TABLE             = "ws-notify-profiles"
      SEGMENT_INDEX_TABLE        = "ws-notify-segment-index"
      # Scheduled sends (schedules.tf).
      SCHEDULES_TABLE                = "ws-notify-schedules"
      SCHEDULES_TARGET_INDEX         = "target-index"
      SCHEDULE_GROUP                 = "ws-notify"
      SCHEDULER_ROLE_ARN             = "arn:aws:iam::111122223333:role/ws-notify-scheduler-eu-west-1"
      SCHEDULE_TARGET_ARN            = "arn:aws:lambda:eu-west-1:111122223333:function:ws-notify-push"
      SCHEDULE_DLQ_ARN               = "arn:aws:sqs:eu-west-1:111122223333:ws-notify-schedule-dlq"
      SCHEDULE_RETRY_ATTEMPTS        = "3"
      SCHEDULE_MAX_EVENT_AGE_SECONDS = "3600"
      DEFAULT_TIMEZONE               = "UTC"
      JOBS_TABLE                     = "ws-notify-jobs"
      FANOUT_QUEUE_URL               = "https://sqs.eu-west-1.amazonaws.com/111122223333/ws-notify-fanout"
      SHARD_SIZE                     = "1000"
    })
    error_message = "push environment per docs/architecture.md"
  }

  assert {
    condition = (aws_lambda_function.this["poll"].environment[0].variables.CONNECTIONS_ENDPOINT == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
      && aws_lambda_function.this["poll"].environment[0].variables.SEND_CONCURRENCY == "32"
    && aws_lambda_function.this["poll"].environment[0].variables.POLL_LOOKBACK_SECONDS == "30")
    error_message = "poll posts to the stage's management endpoint and re-reads a 30 s lookback"
  }

  assert {
    condition = (aws_lambda_function.this["connect"].environment[0].variables.AUTH_MODE == "hs256"
    && aws_lambda_function.this["connect"].environment[0].variables.CONNECTION_TTL_SECONDS == "7500")
    error_message = "connect environment"
  }

  assert {
    condition = aws_lambda_function.this["authorizer"].environment[0].variables == tomap({
      AUTH_MODE            = "hs256"
      JWT_SECRET_PARAMETER = "/ws-notify/jwt-secret"
      JWT_LEEWAY_SECONDS   = "30"
      SECRET_CACHE_SECONDS = "300"
      LOG_LEVEL            = "INFO"
      TOPICS_CLAIM         = "topics"
    })
    error_message = "the authorizer gets the parameter name (never the secret) and no table names"
  }

  assert {
    condition = contains(jsondecode(module.iam.policy_documents["authorizer"]).Statement, {
      Sid      = "ReadJwtSecret", Effect = "Allow", Action = ["ssm:GetParameters"],
      Resource = ["arn:aws:ssm:eu-west-1:111122223333:parameter/ws-notify/jwt-secret"]
    })
    error_message = "the authorizer may read exactly the default parameter"
  }

  assert {
    condition = contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid      = "PostToConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"],
      Resource = ["arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/@connections/*"]
    })
    error_message = "push may post to this stage's connections only"
  }

  assert {
    condition     = length(terraform_data.authorizer_layer) == 1 && aws_lambda_layer_version.authorizer[0].compatible_architectures == toset(["arm64"]) && aws_lambda_layer_version.authorizer[0].compatible_runtimes == toset(["python3.12"])
    error_message = "the dependency layer is built for the functions' architecture and runtime"
  }

  assert {
    condition     = alltrue([for k, g in aws_cloudwatch_log_group.function : g.name == "/aws/lambda/ws-notify-${k}" && g.retention_in_days == 30])
    error_message = "one log group per function, with retention"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.tracing_config[0].mode == "PassThrough" && f.reserved_concurrent_executions == -1])
    error_message = "tracing and reserved concurrency off by default"
  }

  assert {
    condition     = length(aws_apigatewayv2_api.http) == 0
    error_message = "no HTTP endpoint by default"
  }

  # A fresh account has no API Gateway CloudWatch role: nothing may need it, and nothing
  # Region-wide may be changed, unless asked.
  assert {
    condition     = module.api_gateway_account.cloudwatch_role_arn == null && module.websocket_api.access_log_group_name == null && module.websocket_api.execution_log_group_name == null
    error_message = "no stage logging and no Region-wide account setting by default"
  }

  assert {
    condition     = alltrue([for k, n in module.iam.role_names : n == "ws-notify-${k}-eu-west-1"])
    error_message = "role names carry the Region"
  }

  assert {
    condition     = output.connections_endpoint == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod" && output.push_function_name == "ws-notify-push"
    error_message = "outputs"
  }
}

run "everything_on" {
  command = plan

  override_resource {
    target          = aws_apigatewayv2_api.http[0]
    override_during = plan
    values          = { id = "http123", execution_arn = "arn:aws:execute-api:eu-west-1:111122223333:http123" }
  }

  override_resource {
    target          = aws_lambda_function.this["push"]
    override_during = plan
    values          = { invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/push/invocations" }
  }

  variables {
    enable_client_push = true
    enable_broadcast   = true
    create_http_api    = true
    http_api = {
      cors_allow_origins   = ["https://app.example.com"]
      route_throttling     = { "POST /v1/notifications" = { burst_limit = 7, rate_limit = 3 } }
      admin_principal_arns = ["arn:aws:iam::111122223333:role/ops"]
    }
    push_send_concurrency = 64
    lambda_architecture   = "x86_64"
    tracing_enabled       = true
    reserved_concurrency  = { push = 10 }
  }

  assert {
    condition = (aws_lambda_function.this["push"].environment[0].variables.ALLOW_CLIENT_PUSH == "true"
      && aws_lambda_function.this["push"].environment[0].variables.ALLOW_BROADCAST == "true"
      && aws_lambda_function.this["push"].environment[0].variables.SEND_CONCURRENCY == "64"
    && aws_lambda_function.this["poll"].environment[0].variables.SEND_CONCURRENCY == "64")
    error_message = "switches reach the push and poll functions"
  }

  assert {
    condition     = contains(keys(module.websocket_api.route_ids), "push")
    error_message = "client push creates the push route"
  }

  assert {
    condition     = contains([for s in jsondecode(module.iam.policy_documents["push"]).Statement : s.Sid], "BroadcastScan")
    error_message = "broadcast grants Scan"
  }

  assert {
    condition = toset([for k in keys(aws_apigatewayv2_route.http) : k if !strcontains(k, "/topics/") && !strcontains(k, "/subscriptions")]) == toset([
      "POST /v1/notifications", "GET /v1/users/{userId}/connections", "DELETE /v1/users/{userId}/connections", "GET /v1/me/notifications",
      "PUT /v1/users/{userId}", "GET /v1/users/{userId}", "DELETE /v1/users/{userId}",
      "GET /v1/schedules", "GET /v1/schedules/{scheduleId}", "PATCH /v1/schedules/{scheduleId}", "DELETE /v1/schedules/{scheduleId}",
      "GET /v1/notifications/{notificationId}", "DELETE /v1/notifications/{notificationId}",
    ])
    error_message = "the HTTP API has the seven /v1 routes, the four schedule routes and the two job routes (and the topic routes, tests/topics.tftest.hcl)"
  }

  assert {
    condition     = alltrue([for k, r in aws_apigatewayv2_route.http : r.authorization_type == (startswith(split(" ", k)[1], "/v1/me/") ? "CUSTOM" : "AWS_IAM")])
    error_message = "backend routes require SigV4, /v1/me the Lambda authorizer in hs256 mode"
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.http[0].authorizer_type == "REQUEST" && aws_apigatewayv2_authorizer.http[0].enable_simple_responses && aws_apigatewayv2_authorizer.http[0].authorizer_payload_format_version == "2.0"
    error_message = "hs256: the project's authorizer as a REQUEST authorizer with simple responses"
  }

  assert {
    condition     = aws_apigatewayv2_integration.http["push"].integration_uri == aws_lambda_function.this["push"].invoke_arn && aws_lambda_permission.http["POST /v1/notifications"].function_name == "ws-notify-push" && aws_lambda_permission.http["DELETE /v1/users/{userId}/connections"].function_name == "ws-notify-users"
    error_message = "each route invokes its resource group's function, with a permission per route"
  }

  assert {
    condition     = endswith(aws_lambda_permission.http["GET /v1/users/{userId}/connections"].source_arn, "/$default/GET/v1/users/*/connections")
    error_message = "route permissions name the route's execute-api ARN, path parameters as *"
  }

  assert {
    condition     = one(aws_apigatewayv2_stage.http[0].route_settings).throttling_burst_limit == 7 && aws_apigatewayv2_stage.http[0].default_route_settings[0].throttling_rate_limit == 50
    error_message = "per-route throttling over the stage default"
  }

  assert {
    condition     = aws_apigatewayv2_api.http[0].cors_configuration[0].allow_origins == toset(["https://app.example.com"]) && aws_apigatewayv2_api.http[0].cors_configuration[0].allow_methods == toset(["DELETE", "GET", "PUT"])
    error_message = "CORS: the configured origins, GET and (topics' /v1/me/subscriptions) PUT, DELETE"
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.http_access) == 1 && length(aws_apigatewayv2_stage.http[0].access_log_settings) == 1
    error_message = "access logs are on by default"
  }

  assert {
    condition     = contains([for s in jsondecode(module.iam.policy_documents["users"]).Statement : s.Sid], "CloseConnections")
    error_message = "users may close connections"
  }

  assert {
    condition     = contains(flatten([for s in jsondecode(module.iam.policy_documents["me"]).Statement : s.Action]), "execute-api:ManageConnections") == false
    error_message = "me only reads history"
  }

  assert {
    condition     = aws_lambda_function.this["users"].environment[0].variables.ADMIN_PRINCIPAL_ARNS == "arn:aws:iam::111122223333:role/ops"
    error_message = "admin principals reach the users function"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.architectures == tolist(["x86_64"]) && f.tracing_config[0].mode == "Active"]) && aws_lambda_layer_version.authorizer[0].compatible_architectures == toset(["x86_64"])
    error_message = "architecture and tracing apply to every function and the layer"
  }

  assert {
    condition     = aws_lambda_function.this["push"].reserved_concurrent_executions == 10 && aws_lambda_function.this["poll"].reserved_concurrent_executions == -1
    error_message = "reserved concurrency per function"
  }
}

run "auth_disabled_builds_nothing" {
  command = plan

  variables {
    auth = { mode = "disabled", insecure_allow_any_user_id = true }
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this), "authorizer") && length(terraform_data.authorizer_layer) == 0 && length(aws_lambda_layer_version.authorizer) == 0
    error_message = "no authorizer and no pip build when authentication is disabled"
  }

  assert {
    condition     = module.websocket_api.authorizer_id == null && aws_lambda_function.this["connect"].environment[0].variables.AUTH_MODE == "disabled"
    error_message = "$connect is open and connect knows it"
  }

  assert {
    condition = alltrue([for f in ["push", "poll"] : contains(
      [for s in jsondecode(module.iam.policy_documents[f]).Statement : s.Sid], "LookUpConnectionUser"
    )])
    error_message = "without an authorizer, poll and push read the user from the connection row"
  }
}

run "air_gapped_layer" {
  command = plan

  variables {
    authorizer_layer_arns = ["arn:aws:lambda:eu-west-1:111122223333:layer:pyjwt:3"]
  }

  assert {
    condition     = length(terraform_data.authorizer_layer) == 0 && aws_lambda_function.this["authorizer"].layers == tolist(["arn:aws:lambda:eu-west-1:111122223333:layer:pyjwt:3"])
    error_message = "a layer of one's own replaces the pip build"
  }

  assert {
    condition     = aws_lambda_function.this["push"].layers == null
    error_message = "only the authorizer gets the layer"
  }
}

run "jwks" {
  command = plan

  variables {
    auth = {
      mode     = "jwks"
      jwks_url = "https://example.auth0.com/.well-known/jwks.json"
      issuer   = "https://example.auth0.com/"
      audience = "notifications"
    }
  }

  assert {
    condition = aws_lambda_function.this["authorizer"].environment[0].variables == tomap({
      AUTH_MODE            = "jwks"
      JWKS_URL             = "https://example.auth0.com/.well-known/jwks.json"
      JWT_ISSUER           = "https://example.auth0.com/"
      JWT_AUDIENCE         = "notifications"
      JWT_LEEWAY_SECONDS   = "30"
      SECRET_CACHE_SECONDS = "300"
      LOG_LEVEL            = "INFO"
      TOPICS_CLAIM         = "topics"
    })
    error_message = "jwks settings reach the authorizer, without an SSM parameter"
  }

  assert {
    condition     = !contains([for s in jsondecode(module.iam.policy_documents["authorizer"]).Statement : s.Sid], "ReadJwtSecret")
    error_message = "no SSM access in jwks mode"
  }

  assert {
    condition     = !contains([for s in jsondecode(module.iam.policy_documents["poll"]).Statement : s.Sid], "LookUpConnectionUser")
    error_message = "with an authorizer, poll needs no connection lookups"
  }
}

run "jwks_http_api_uses_the_native_jwt_authorizer" {
  command = plan

  variables {
    create_http_api = true
    auth = {
      mode     = "jwks"
      jwks_url = "https://example.auth0.com/.well-known/jwks.json"
      issuer   = "https://example.auth0.com/"
      audience = "notifications"
    }
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.http[0].authorizer_type == "JWT" && aws_apigatewayv2_authorizer.http[0].jwt_configuration[0].issuer == "https://example.auth0.com/" && aws_apigatewayv2_authorizer.http[0].jwt_configuration[0].audience == toset(["notifications"])
    error_message = "jwks mode: API Gateway's JWT authorizer with the issuer and audience"
  }

  assert {
    condition     = aws_apigatewayv2_route.http["GET /v1/me/notifications"].authorization_type == "JWT" && length(aws_lambda_permission.http_authorizer) == 0
    error_message = "the JWT route invokes no Lambda authorizer"
  }

  assert {
    condition     = length(aws_apigatewayv2_api.http[0].cors_configuration) == 0
    error_message = "no CORS unless origins are listed"
  }
}

run "jwks_http_api_needs_issuer_and_audience" {
  command = plan

  variables {
    create_http_api = true
    auth = {
      mode     = "jwks"
      jwks_url = "https://example.auth0.com/.well-known/jwks.json"
    }
  }

  # jwks mode requires both (the variable's validation), so the HTTP API's JWT authorizer never
  # trusts a foreign token either.
  expect_failures = [var.auth]
}

run "http_api_without_auth_has_no_me_routes" {
  command = plan

  variables {
    create_http_api = true
    auth            = { mode = "disabled", insecure_allow_any_user_id = true }
    http_api        = { access_log_enabled = false }
  }

  assert {
    condition     = !contains(keys(aws_apigatewayv2_route.http), "GET /v1/me/notifications") && !contains(keys(aws_lambda_function.this), "me") && length(aws_apigatewayv2_authorizer.http) == 0
    error_message = "without a user identity there is no /v1/me"
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.http_access) == 0 && length(aws_apigatewayv2_stage.http[0].access_log_settings) == 0
    error_message = "access logs can be switched off"
  }
}

run "rejects_invalid_http_api_settings" {
  command = plan

  variables {
    create_http_api = true
    http_api = {
      cors_allow_origins   = ["https://app.example.com/path"]
      route_throttling     = { "GET /v2/unknown" = { burst_limit = 1, rate_limit = 1 } }
      admin_principal_arns = ["not-an-arn"]
    }
  }

  expect_failures = [var.http_api]
}

run "create_false_creates_nothing" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition = (length(aws_lambda_function.this) == 0 && length(aws_cloudwatch_log_group.function) == 0
      && length(data.archive_file.functions) == 0 && length(terraform_data.authorizer_layer) == 0
    && output.websocket_url == null && output.push_function_arn == null && output.connections_table_name == null)
    error_message = "create = false must create nothing"
  }
}

run "rejects_invalid_inputs" {
  command = plan

  variables {
    lambda_architecture   = "arm"
    push_send_concurrency = 0
    log_retention_days    = 10
    name_prefix           = "9-starts-with-a-digit"
    stage_name            = "has space"
  }

  expect_failures = [var.lambda_architecture, var.push_send_concurrency, var.log_retention_days, var.name_prefix, var.stage_name]
}

run "rejects_invalid_auth" {
  command = plan

  variables {
    auth = { mode = "jwks", jwks_url = "http://insecure.example.com/jwks.json" }
  }

  expect_failures = [var.auth]
}

run "rejects_cache_seconds_zero" {
  command = plan

  variables {
    auth = { cache_seconds = 0 }
  }

  expect_failures = [var.auth]
}

run "rejects_delivery_windows_out_of_range" {
  command = plan

  variables {
    idempotency_window_seconds = 30
    poll_lookback_seconds      = 901
  }

  expect_failures = [var.idempotency_window_seconds, var.poll_lookback_seconds]
}

run "rejects_alg_none" {
  command = plan

  variables {
    auth = { algorithms = ["HS256", "none"] }
  }

  expect_failures = [var.auth]
}

run "rejects_algorithms_outside_the_mode_family" {
  command = plan

  variables {
    auth = { mode = "hs256", algorithms = ["RS256"] }
  }

  expect_failures = [var.auth]
}

run "rejects_history_ttl_above_max" {
  command = plan

  variables {
    history_ttl_seconds     = 86400
    history_max_ttl_seconds = 3600
  }

  expect_failures = [aws_lambda_function.this]
}

# Logging without the role fails at plan: shown in modules/websocket-api's tests (expect_failures
# cannot name a resource inside a module).
run "websocket_logging_with_an_existing_account_role" {
  command = plan

  variables {
    enable_websocket_access_logs    = true
    api_logging_level               = "ERROR"
    api_gateway_account_role_exists = true
  }

  assert {
    condition     = module.websocket_api.access_log_group_name == "/aws/apigateway/ws-notify/prod/access" && module.api_gateway_account.role_name == null
    error_message = "access logs on, and the Region-wide setting left to the stack that owns it"
  }
}

run "websocket_logging_with_the_account_role_created_here" {
  command = plan

  variables {
    enable_websocket_access_logs    = true
    create_api_gateway_account_role = true
  }

  assert {
    condition     = module.api_gateway_account.role_name == "ws-notify-apigw-logs-eu-west-1"
    error_message = "opting in creates the Region-wide role, named with the Region"
  }
}

run "rejects_both_account_role_switches" {
  command = plan

  variables {
    create_api_gateway_account_role = true
    api_gateway_account_role_exists = true
  }

  expect_failures = [aws_lambda_function.this]
}

# API Gateway and Lambda take 0 literally: every request throttled, the function stopped.
run "rejects_zero_throttling_and_concurrency" {
  command = plan

  variables {
    throttling_burst_limit = 0
    throttling_rate_limit  = 0
    reserved_concurrency   = { push = 0 }
    http_api               = { default_throttling = { burst_limit = 0, rate_limit = 0 } }
  }

  expect_failures = [var.throttling_burst_limit, var.throttling_rate_limit, var.reserved_concurrency, var.http_api]
}

