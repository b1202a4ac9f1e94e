# Security hardening (issue 8): inputs that must refuse a plan, and the wiring of the
# token-lifetime, revocation and client-push safeguards. Plan only, mocked AWS provider.
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
}

# Each service's principal, as the data source answers in the aws partition.
override_data {
  target = data.aws_service_principal.events
  values = { name = "events.amazonaws.com" }
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
  target          = aws_cloudwatch_event_rule.sweeper[0]
  override_during = plan
  values          = { arn = "arn:aws:events:eu-west-1:111122223333:rule/ws-notify-token-expiry-sweep" }
}

override_resource {
  target          = aws_lambda_function.this
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:fn" }
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

run "jwks_requires_issuer_and_audience" {
  command = plan

  variables {
    auth = { mode = "jwks", jwks_url = "https://example.auth0.com/.well-known/jwks.json", issuer = "https://example.auth0.com/" }
  }

  expect_failures = [var.auth]
}

run "jwks_requires_audience_and_issuer" {
  command = plan

  variables {
    auth = { mode = "jwks", jwks_url = "https://example.auth0.com/.well-known/jwks.json", audience = "notifications" }
  }

  expect_failures = [var.auth]
}

run "jwks_token_use_reaches_the_authorizer" {
  command = plan

  variables {
    auth = {
      mode      = "jwks"
      jwks_url  = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"
      issuer    = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
      audience  = "client-id"
      token_use = "access"
    }
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables.JWT_TOKEN_USE == "access"
    error_message = "token_use reaches the authorizer"
  }
}

run "rejects_unknown_token_use" {
  command = plan

  variables {
    auth = { mode = "jwks", jwks_url = "https://x.example/jwks.json", issuer = "https://x.example/", audience = "a", token_use = "refresh" }
  }

  expect_failures = [var.auth]
}

run "token_lifetime_wiring" {
  command = plan

  assert {
    condition = (aws_cloudwatch_event_rule.sweeper[0].schedule_expression == "rate(1 minute)"
      && aws_cloudwatch_event_target.sweeper[0].arn == aws_lambda_function.this["sweeper"].arn
      && aws_lambda_permission.sweeper_schedule[0].principal == "events.amazonaws.com"
    && aws_lambda_permission.sweeper_schedule[0].source_arn == aws_cloudwatch_event_rule.sweeper[0].arn)
    error_message = "an EventBridge rate rule invokes the sweeper, and only that rule may"
  }

  assert {
    condition = (aws_lambda_function.this["sweeper"].environment[0].variables.CONNECTIONS_EXPIRY_INDEX == "tokenExpiresAt-index"
    && aws_lambda_function.this["refresh"].environment[0].variables.AUTH_MODE == "hs256")
    error_message = "the sweeper knows the expiry index; refresh verifies tokens like the authorizer"
  }

  assert {
    condition     = length(aws_lambda_function.this["refresh"].layers) == 1 && aws_lambda_function.this["sweeper"].layers == null
    error_message = "refresh gets the authorizer's PyJWT layer"
  }
}

run "no_sweeper_without_authentication" {
  command = plan

  variables {
    auth = { mode = "disabled", insecure_allow_any_user_id = true }
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.sweeper) == 0 && !contains(keys(aws_lambda_function.this), "sweeper") && !contains(keys(aws_lambda_function.this), "refresh")
    error_message = "without tokens there is nothing to sweep or refresh"
  }
}

run "rejects_slow_sweep_schedule" {
  command = plan

  variables {
    token_expiry_sweep_schedule = "rate(1 hour)"
  }

  expect_failures = [var.token_expiry_sweep_schedule]
}

run "push_async_failures_go_to_an_encrypted_queue" {
  command = plan

  assert {
    condition = (aws_lambda_function.this["push"].dead_letter_config[0].target_arn == aws_sqs_queue.push_async_failures[0].arn
      && aws_sqs_queue.push_async_failures[0].sqs_managed_sse_enabled
      && alltrue([for k, f in aws_lambda_function.this : length(f.dead_letter_config) == 0 if k != "push"])
    && aws_lambda_function_event_invoke_config.push[0].maximum_event_age_in_seconds == 3600)
    error_message = "failed asynchronous invocations of push land in an encrypted SQS queue; synchronous-only functions have none"
  }

  assert {
    condition     = contains([for s in jsondecode(module.iam.policy_documents["push"]).Statement : s.Sid], "SendFailedAsyncInvocations")
    error_message = "push may send to its failure queue"
  }
}

run "disabled_auth_needs_the_insecure_switch" {
  command = plan

  variables {
    auth = { mode = "disabled" }
  }

  expect_failures = [var.auth]
}

run "rejects_connection_ttl_below_the_two_hour_limit" {
  command = plan

  variables {
    connection_ttl_seconds = 7200
  }

  expect_failures = [var.connection_ttl_seconds]
}

run "accepts_connection_ttl_of_two_hours_and_a_minute" {
  command = plan

  variables {
    connection_ttl_seconds = 7260
  }

  assert {
    condition     = aws_lambda_function.this["connect"].environment[0].variables.CONNECTION_TTL_SECONDS == "7260"
    error_message = "the smallest allowed TTL reaches connect"
  }
}

run "client_push_lambda_policy_is_wired" {
  command = plan

  variables {
    enable_client_push = true
    client_push = {
      policy              = "lambda"
      policy_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:may-message"
      rate_limit          = 10
    }
  }

  assert {
    condition = (aws_lambda_function.this["push"].environment[0].variables.CLIENT_PUSH_POLICY == "lambda"
      && aws_lambda_function.this["push"].environment[0].variables.CLIENT_PUSH_POLICY_FUNCTION == "arn:aws:lambda:eu-west-1:111122223333:function:may-message"
      && aws_lambda_function.this["push"].environment[0].variables.CLIENT_PUSH_RATE_LIMIT == "10"
      && aws_lambda_function.this["push"].environment[0].variables.CLIENT_MAX_RECIPIENTS == "10"
      && aws_lambda_function.this["push"].environment[0].variables.CLIENT_HISTORY_MAX_TTL_SECONDS == "86400"
    && aws_lambda_function.this["push"].environment[0].variables.RATE_LIMIT_TABLE == "ws-notify-rate-limits")
    error_message = "push knows its client-push policy, limits and rate limit table"
  }

  assert {
    condition = contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid      = "AskClientPushPolicy", Effect = "Allow", Action = ["lambda:InvokeFunction"],
      Resource = ["arn:aws:lambda:eu-west-1:111122223333:function:may-message"]
    })
    error_message = "push may invoke the policy function, and only it"
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "CLIENT_PUSH_CLAIM")
    error_message = "no claim is passed through with the lambda policy"
  }
}

run "client_push_claim_policy_reaches_the_authorizer" {
  command = plan

  variables {
    enable_client_push = true
    client_push        = { policy = "claim", claim = "may_message" }
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables.CLIENT_PUSH_CLAIM == "may_message"
    error_message = "the authorizer copies the claim into its context"
  }

  assert {
    condition     = !contains([for s in jsondecode(module.iam.policy_documents["push"]).Statement : s.Sid], "AskClientPushPolicy")
    error_message = "no lambda:InvokeFunction without the lambda policy"
  }
}

run "rejects_lambda_policy_without_a_function" {
  command = plan

  variables {
    enable_client_push = true
    client_push        = { policy = "lambda" }
  }

  expect_failures = [var.client_push]
}

run "rejects_too_many_client_recipients" {
  command = plan

  variables {
    client_push = { max_recipients = 101 }
  }

  expect_failures = [var.client_push]
}
