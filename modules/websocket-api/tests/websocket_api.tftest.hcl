# Unit tests of the WebSocket API module: routes and their authorization, the $default MOCK
# reply, throttling, logging, deployment and permissions.
mock_provider "aws" {
  # Computed values are needed at plan time to assert on ARNs built from them.
  override_during = plan

  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      id            = "abc123"
      execution_arn = "arn:aws:execute-api:eu-west-1:111122223333:abc123"
      api_endpoint  = "wss://abc123.execute-api.eu-west-1.amazonaws.com"
    }
  }

  mock_resource "aws_apigatewayv2_authorizer" {
    defaults = {
      id = "auth01"
    }
  }

  mock_data "aws_service_principal" {
    defaults = {
      name = "apigateway.amazonaws.com"
    }
  }
}

# Distinct integration ids, so a route pointing at the wrong integration fails.
override_resource {
  target          = aws_apigatewayv2_integration.lambda["connect"]
  override_during = plan
  values          = { id = "int-connect" }
}

override_resource {
  target          = aws_apigatewayv2_integration.lambda["disconnect"]
  override_during = plan
  values          = { id = "int-disconnect" }
}

override_resource {
  target          = aws_apigatewayv2_integration.lambda["poll"]
  override_during = plan
  values          = { id = "int-poll" }
}

override_resource {
  target          = aws_apigatewayv2_integration.lambda["push"]
  override_during = plan
  values          = { id = "int-push" }
}

override_resource {
  target          = aws_apigatewayv2_integration.default[0]
  override_during = plan
  values          = { id = "int-default" }
}

override_resource {
  target          = aws_apigatewayv2_deployment.this[0]
  override_during = plan
  values          = { id = "dep01" }
}

override_resource {
  target          = aws_cloudwatch_log_group.access[0]
  override_during = plan
  values          = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/apigateway/t/prod/access" }
}

override_resource {
  target          = aws_apigatewayv2_route.optional["push"]
  override_during = plan
  values          = { id = "route-push" }
}

variables {
  name = "t"
  functions = {
    connect    = { function_name = "t-connect", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-connect/invocations" }
    disconnect = { function_name = "t-disconnect", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-disconnect/invocations" }
    push       = { function_name = "t-push", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-push/invocations" }
    poll       = { function_name = "t-poll", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-poll/invocations" }
    authorizer = { function_name = "t-authorizer", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-authorizer/invocations" }
  }
}

run "routes_and_authorization" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_api.this[0].protocol_type == "WEBSOCKET" && aws_apigatewayv2_api.this[0].route_selection_expression == "$request.body.action"
    error_message = "a WebSocket API routing on $request.body.action"
  }

  assert {
    condition     = toset(keys(aws_apigatewayv2_route.lambda)) == toset(["$connect", "$disconnect", "poll"])
    error_message = "without client push there is no push route"
  }

  assert {
    condition = (aws_apigatewayv2_route.lambda["$connect"].authorization_type == "CUSTOM"
    && aws_apigatewayv2_route.lambda["$connect"].authorizer_id == "auth01")
    error_message = "$connect is protected by the REQUEST authorizer"
  }

  assert {
    condition     = alltrue([for k, r in aws_apigatewayv2_route.lambda : r.authorization_type == "NONE" && r.authorizer_id == null if k != "$connect"])
    error_message = "only $connect carries the authorizer"
  }

  assert {
    condition = alltrue([for k, f in { "$connect" = "connect", "$disconnect" = "disconnect", "poll" = "poll" } :
    aws_apigatewayv2_route.lambda[k].target == "integrations/${aws_apigatewayv2_integration.lambda[f].id}"])
    error_message = "each route targets its own function's integration"
  }

  assert {
    condition = alltrue([for f, i in aws_apigatewayv2_integration.lambda :
    i.integration_type == "AWS_PROXY" && i.integration_uri == var.functions[f].invoke_arn])
    error_message = "Lambda proxy integrations"
  }

  assert {
    condition = (aws_apigatewayv2_authorizer.this[0].authorizer_type == "REQUEST"
      && aws_apigatewayv2_authorizer.this[0].authorizer_uri == var.functions.authorizer.invoke_arn
    && aws_apigatewayv2_authorizer.this[0].identity_sources == null)
    error_message = "the default 'either' identity source lists no source so the function sees both places"
  }
}

run "default_route_is_a_mock_error_envelope" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_route.default[0].target == "integrations/int-default"
    error_message = "$default targets the MOCK integration"
  }

  assert {
    condition     = aws_apigatewayv2_route.default[0].route_key == "$default" && aws_apigatewayv2_route.default[0].route_response_selection_expression == "$default"
    error_message = "$default route with a route response selection expression"
  }

  assert {
    condition     = aws_apigatewayv2_integration.default[0].integration_type == "MOCK" && aws_apigatewayv2_integration.default[0].request_templates["$default"] == "{\"statusCode\": 200}"
    error_message = "$default is answered by a MOCK integration"
  }

  assert {
    condition     = aws_apigatewayv2_integration_response.default[0].response_templates["$default"] == "{\"type\":\"error\",\"id\":\"$context.requestId\",\"createdAt\":$context.requestTimeEpoch,\"error\":{\"code\":\"UNKNOWN_ACTION\",\"message\":\"Unknown or missing action. Valid actions: poll.\"}}"
    error_message = "the MOCK reply must be exactly the envelope of docs/architecture.md"
  }

  assert {
    condition     = aws_apigatewayv2_integration_response.default[0].integration_response_key == "$default" && aws_apigatewayv2_route_response.default[0].route_response_key == "$default"
    error_message = "integration and route responses keyed $default"
  }
}

run "stage_throttling_logging_and_deployment" {
  command = plan

  variables {
    throttling_burst_limit = 42
    throttling_rate_limit  = 17
  }

  assert {
    condition = (aws_apigatewayv2_stage.this[0].default_route_settings[0].throttling_burst_limit == 42
    && aws_apigatewayv2_stage.this[0].default_route_settings[0].throttling_rate_limit == 17)
    error_message = "throttling values come from the inputs"
  }

  assert {
    condition = (aws_apigatewayv2_stage.this[0].default_route_settings[0].detailed_metrics_enabled
    && !aws_apigatewayv2_stage.this[0].default_route_settings[0].data_trace_enabled)
    error_message = "detailed metrics on, data trace off"
  }

  assert {
    condition = (length(aws_apigatewayv2_stage.this[0].access_log_settings) == 0 && length(aws_cloudwatch_log_group.access) == 0
    && aws_apigatewayv2_stage.this[0].default_route_settings[0].logging_level == "OFF" && length(aws_cloudwatch_log_group.execution) == 0)
    error_message = "no stage logging by default: it needs the Region's API Gateway CloudWatch role, which a fresh account lacks"
  }

  assert {
    condition     = aws_apigatewayv2_stage.this[0].deployment_id == aws_apigatewayv2_deployment.this[0].id && !aws_apigatewayv2_stage.this[0].auto_deploy
    error_message = "the stage uses the explicit deployment"
  }

  assert {
    condition     = keys(aws_apigatewayv2_deployment.this[0].triggers) == tolist(["redeployment"])
    error_message = "the deployment is re-triggered by a hash of the routing inputs"
  }

  assert {
    condition     = output.management_endpoint == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    error_message = "management endpoint is the https stage URL"
  }
}

# The hash is made of inputs only, so it is known at plan time and does not move on refresh.
run "deployment_hash_known_at_plan_and_follows_routing" {
  command = plan

  assert {
    condition     = length(aws_apigatewayv2_deployment.this[0].triggers.redeployment) == 40
    error_message = "the redeployment hash is known at plan time"
  }
}

run "deployment_hash_changes_with_client_push" {
  command = plan

  variables {
    create_push_route = true
  }

  assert {
    condition     = output.routing_hash != run.deployment_hash_known_at_plan_and_follows_routing.routing_hash
    error_message = "switching client push redeploys"
  }
}

run "logging_opt_in_with_account_role" {
  command = plan

  variables {
    enable_access_logs         = true
    logging_level              = "ERROR"
    account_logging_role_ready = true
    log_retention_days         = 14
  }

  assert {
    condition     = aws_apigatewayv2_stage.this[0].access_log_settings[0].destination_arn == aws_cloudwatch_log_group.access[0].arn && aws_cloudwatch_log_group.access[0].retention_in_days == 14
    error_message = "access logs go to a log group with retention"
  }

  assert {
    condition     = can(jsondecode(aws_apigatewayv2_stage.this[0].access_log_settings[0].format).requestId)
    error_message = "access log format is JSON"
  }

  assert {
    condition     = aws_cloudwatch_log_group.execution[0].name == "API-Gateway-Execution-Logs_abc123/prod" && aws_cloudwatch_log_group.execution[0].retention_in_days == 14
    error_message = "API Gateway's own execution log group is created with retention"
  }
}

run "logging_without_account_role_fails_at_plan" {
  command = plan

  variables {
    enable_access_logs = true
  }

  expect_failures = [aws_apigatewayv2_stage.this]
}

run "execution_logging_without_account_role_fails_at_plan" {
  command = plan

  variables {
    logging_level = "INFO"
  }

  expect_failures = [aws_apigatewayv2_stage.this]
}

run "permissions_are_scoped_to_each_route" {
  command = plan

  assert {
    condition = alltrue([for k, p in aws_lambda_permission.route :
    p.source_arn == "arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/${k}" && p.principal == "apigateway.amazonaws.com"])
    error_message = "each permission allows only its own route of this stage"
  }

  assert {
    condition     = aws_lambda_permission.route["poll"].function_name == "t-poll" && aws_lambda_permission.route["$connect"].function_name == "t-connect"
    error_message = "permissions are granted on the routed function"
  }

  assert {
    condition     = aws_lambda_permission.authorizer[0].source_arn == "arn:aws:execute-api:eu-west-1:111122223333:abc123/authorizers/auth01"
    error_message = "the authorizer may be invoked by this authorizer only"
  }
}

run "client_push_and_no_auth" {
  command = plan

  variables {
    create_push_route = true
    enable_authorizer = false
  }

  assert {
    condition     = aws_apigatewayv2_route.optional["push"].target == "integrations/int-push" && !contains(keys(aws_apigatewayv2_route_response.optional), "push")
    error_message = "client push routes push frames to the push function"
  }

  assert {
    condition     = aws_lambda_permission.route["push"].source_arn == "arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/push"
    error_message = "the push function may be invoked by the push route"
  }

  assert {
    condition     = length(aws_apigatewayv2_authorizer.this) == 0 && aws_apigatewayv2_route.lambda["$connect"].authorization_type == "NONE" && length(aws_lambda_permission.authorizer) == 0
    error_message = "no authorizer when authentication is disabled"
  }
}

run "identity_source_query" {
  command = plan

  variables {
    authorizer_identity_source = "query"
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this[0].identity_sources == toset(["route.request.querystring.token"])
    error_message = "query identity source"
  }
}

run "identity_source_header" {
  command = plan

  variables {
    authorizer_identity_source = "header"
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this[0].identity_sources == toset(["route.request.header.Sec-WebSocket-Protocol"])
    error_message = "subprotocol header identity source"
  }
}

run "push_route_answers_like_default_when_client_push_is_off" {
  command = plan

  assert {
    condition = (aws_apigatewayv2_route.optional["push"].target == "integrations/int-default"
      && aws_apigatewayv2_route.optional["push"].route_response_selection_expression == "$default"
    && aws_apigatewayv2_route_response.optional["push"].route_response_key == "$default")
    error_message = "with client push off the push route is the $default MOCK reply (no Lambda behind it)"
  }

  assert {
    condition     = !contains(keys(aws_lambda_permission.route), "push") && !contains(keys(aws_apigatewayv2_integration.lambda), "push")
    error_message = "no push permission or integration when client push is off"
  }
}

run "auto_deploy" {
  command = plan

  variables {
    auto_deploy = true
  }

  assert {
    condition     = length(aws_apigatewayv2_deployment.this) == 0 && aws_apigatewayv2_stage.this[0].auto_deploy
    error_message = "auto_deploy replaces the explicit deployment"
  }
}

run "create_false" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_apigatewayv2_api.this) == 0 && length(aws_apigatewayv2_route.lambda) == 0 && length(aws_apigatewayv2_route.optional) == 0 && length(aws_lambda_permission.route) == 0 && output.websocket_url == null
    error_message = "create = false creates nothing"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    authorizer_identity_source = "cookie"
    logging_level              = "DEBUG"
    log_retention_days         = 10
    functions                  = { connect = { function_name = "x", invoke_arn = "y" } }
    throttling_burst_limit     = 0
    throttling_rate_limit      = 0
  }

  expect_failures = [var.authorizer_identity_source, var.logging_level, var.log_retention_days, var.functions, var.throttling_burst_limit, var.throttling_rate_limit]
}

run "refresh_route_and_route_throttling" {
  command = plan

  variables {
    create_push_route    = true
    create_refresh_route = true
    functions = {
      connect    = { function_name = "t-connect", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-connect/invocations" }
      disconnect = { function_name = "t-disconnect", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-disconnect/invocations" }
      push       = { function_name = "t-push", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-push/invocations" }
      poll       = { function_name = "t-poll", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-poll/invocations" }
      authorizer = { function_name = "t-authorizer", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-authorizer/invocations" }
      refresh    = { function_name = "t-refresh", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-refresh/invocations" }
    }
    route_throttling = {
      push   = { burst_limit = 10, rate_limit = 5 }
      poll   = { burst_limit = 20, rate_limit = 10 }
      absent = { burst_limit = 1, rate_limit = 1 }
    }
  }

  assert {
    condition     = aws_apigatewayv2_route.optional["refresh"].authorization_type == "NONE" && aws_lambda_permission.route["refresh"].function_name == "t-refresh"
    error_message = "the refresh route invokes the refresh function"
  }

  assert {
    condition = { for r in aws_apigatewayv2_stage.this[0].route_settings : r.route_key => [r.throttling_burst_limit, r.throttling_rate_limit] } == {
      push = [10, 5]
      poll = [20, 10]
    }
    error_message = "push and poll get their own throttling (both limits set); settings for absent routes are dropped"
  }
}

run "rejects_negative_route_throttling" {
  command = plan

  variables {
    route_throttling = { push = { burst_limit = -1, rate_limit = 5 } }
  }

  expect_failures = [var.route_throttling]
}

run "topic_routes" {
  command = plan

  variables {
    create_topic_routes = true
    functions = {
      connect    = { function_name = "t-connect", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-connect/invocations" }
      disconnect = { function_name = "t-disconnect", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-disconnect/invocations" }
      push       = { function_name = "t-push", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-push/invocations" }
      poll       = { function_name = "t-poll", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-poll/invocations" }
      authorizer = { function_name = "t-authorizer", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-authorizer/invocations" }
      topics     = { function_name = "t-topics", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:t-topics/invocations" }
    }
  }

  override_resource {
    target          = aws_apigatewayv2_integration.lambda["topics"]
    override_during = plan
    values          = { id = "int-topics" }
  }

  assert {
    condition = alltrue([for k in ["subscribe", "unsubscribe"] :
      aws_apigatewayv2_route.optional[k].target == "integrations/int-topics"
      && aws_apigatewayv2_route.optional[k].authorization_type == "NONE"
      && aws_apigatewayv2_route.optional[k].route_response_selection_expression == null
      && aws_lambda_permission.route[k].function_name == "t-topics"
      && aws_lambda_permission.route[k].source_arn == "arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/${k}"
    ])
    error_message = "subscribe and unsubscribe invoke the topics function, which only their route may call"
  }

  assert {
    condition     = sort(keys(aws_apigatewayv2_integration.lambda)) == tolist(["connect", "disconnect", "poll", "topics"])
    error_message = "one integration for the topics function, shared by both routes"
  }

  assert {
    condition     = strcontains(aws_apigatewayv2_integration_response.default[0].response_templates["$default"], "Valid actions: poll, subscribe, unsubscribe.")
    error_message = "the $default reply lists the topic actions when they are on"
  }
}

run "topic_routes_off_answer_like_default" {
  command = plan

  assert {
    condition = alltrue([for k in ["subscribe", "unsubscribe"] :
      aws_apigatewayv2_route.optional[k].target == "integrations/int-default"
      && aws_apigatewayv2_route_response.optional[k].route_response_key == "$default"
      && !contains(keys(aws_lambda_permission.route), k)
    ])
    error_message = "switched off, subscribe and unsubscribe get the MOCK reply and no function is invoked"
  }
}
