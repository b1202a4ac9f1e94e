locals {
  # Switchable routes (route key => switched on). Each stays in the API when switched off and is
  # then answered by the same MOCK reply as $default (aws_apigatewayv2_route.optional). Removing
  # a route instead is not reversible in one apply: the create-before-destroy deployment
  # snapshots the routes before the removed one is destroyed, so the old route would stay live
  # without its Lambda permission (500 on every frame).
  optional_routes = {
    "push"        = var.create_push_route
    "refresh"     = var.create_refresh_route
    "subscribe"   = var.create_topic_routes
    "unsubscribe" = var.create_topic_routes
  }
  # The function behind each switchable route (both topic routes reach the topics function).
  optional_route_functions = {
    "push"        = "push"
    "refresh"     = "refresh"
    "subscribe"   = "topics"
    "unsubscribe" = "topics"
  }
  # Route key => function name, for every route that reaches a Lambda function.
  lambda_routes = merge(
    {
      "$connect"    = "connect"
      "$disconnect" = "disconnect"
      "poll"        = "poll"
    },
    { for k, on in local.optional_routes : k => local.optional_route_functions[k] if on },
  )
  routes       = var.create ? local.lambda_routes : {}
  integrations = var.create ? toset(values(local.lambda_routes)) : toset([])
  # Always-present routes with a Lambda target (the switchable ones are their own resource).
  function_routes = { for k, f in local.routes : k => f if !contains(keys(local.optional_routes), k) }
  # Per-route throttling, only for routes that exist (a setting for a missing route fails).
  route_throttling = { for k, v in var.route_throttling : k => v if var.create && (contains(keys(local.routes), k) || contains(keys(local.optional_routes), k)) }

  logging_enabled = var.create && (var.enable_access_logs || var.logging_level != "OFF")

  authorize = var.create && var.enable_authorizer

  identity_sources = {
    query  = ["route.request.querystring.token"]
    header = ["route.request.header.Sec-WebSocket-Protocol"]
    either = null
  }

  # The reply of the $default MOCK integration, exactly as docs/architecture.md specifies: the
  # actions a client may send (poll always; push, subscribe and unsubscribe when switched on;
  # refresh is left out: a client that needs it knows it from its token handling).
  valid_actions = concat(["poll"], [for k in ["push", "subscribe", "unsubscribe"] : k if local.optional_routes[k]])
  default_reply = "{\"type\":\"error\",\"id\":\"$context.requestId\",\"createdAt\":$context.requestTimeEpoch,\"error\":{\"code\":\"UNKNOWN_ACTION\",\"message\":\"Unknown or missing action. Valid actions: ${join(", ", local.valid_actions)}.\"}}"

  # One JSON object per request. Query strings and headers are never logged: they may hold tokens.
  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTimeEpoch   = "$context.requestTimeEpoch"
    eventType          = "$context.eventType"
    routeKey           = "$context.routeKey"
    status             = "$context.status"
    connectionId       = "$context.connectionId"
    messageId          = "$context.messageId"
    sourceIp           = "$context.identity.sourceIp"
    principalId        = "$context.authorizer.principalId"
    integrationLatency = "$context.integrationLatency"
    authorizeError     = "$context.authorize.error"
    error              = "$context.error.message"
  })
}

resource "aws_apigatewayv2_api" "this" {
  count = var.create ? 1 : 0

  name                       = var.name
  description                = var.description
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  tags                       = var.tags
}

resource "aws_apigatewayv2_integration" "lambda" {
  for_each = local.integrations

  api_id             = aws_apigatewayv2_api.this[0].id
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = var.functions[each.key].invoke_arn
}

resource "aws_apigatewayv2_authorizer" "this" {
  count = local.authorize ? 1 : 0

  api_id           = aws_apigatewayv2_api.this[0].id
  name             = "${var.name}-jwt"
  authorizer_type  = "REQUEST"
  authorizer_uri   = var.functions["authorizer"].invoke_arn
  identity_sources = local.identity_sources[var.authorizer_identity_source]
}

resource "aws_apigatewayv2_route" "lambda" {
  #checkov:skip=CKV_AWS_309:WebSocket APIs authorize once, at $connect (REQUEST authorizer); API Gateway accepts no authorizer on $disconnect or message routes, which inherit the identity captured at connect.
  for_each = local.function_routes

  api_id             = aws_apigatewayv2_api.this[0].id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.lambda[each.value].id}"
  authorization_type = each.key == "$connect" && local.authorize ? "CUSTOM" : "NONE"
  authorizer_id      = each.key == "$connect" && local.authorize ? aws_apigatewayv2_authorizer.this[0].id : null
}

# $default: frames with no or an unknown action get an error envelope without invoking a Lambda.
resource "aws_apigatewayv2_integration" "default" {
  count = var.create ? 1 : 0

  api_id                        = aws_apigatewayv2_api.this[0].id
  integration_type              = "MOCK"
  template_selection_expression = "\\$default"
  request_templates             = { "$default" = "{\"statusCode\": 200}" }
}

resource "aws_apigatewayv2_integration_response" "default" {
  count = var.create ? 1 : 0

  api_id                        = aws_apigatewayv2_api.this[0].id
  integration_id                = aws_apigatewayv2_integration.default[0].id
  integration_response_key      = "$default"
  template_selection_expression = "\\$default"
  response_templates            = { "$default" = local.default_reply }
}

resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:WebSocket APIs authorize once, at $connect; $default is a MOCK reply on an already authorized connection and cannot carry an authorizer.
  count = var.create ? 1 : 0

  api_id                              = aws_apigatewayv2_api.this[0].id
  route_key                           = "$default"
  target                              = "integrations/${aws_apigatewayv2_integration.default[0].id}"
  route_response_selection_expression = "$default"

  # Checked here, not on the API: the functions' environment needs the API id first.
  lifecycle {
    precondition {
      condition     = length(var.functions) > 0 && (!var.enable_authorizer || contains(keys(var.functions), "authorizer"))
      error_message = "functions must hold connect, disconnect, poll, push and, with enable_authorizer, authorizer."
    }
  }
}

resource "aws_apigatewayv2_route_response" "default" {
  count = var.create ? 1 : 0

  api_id             = aws_apigatewayv2_api.this[0].id
  route_id           = aws_apigatewayv2_route.default[0].id
  route_response_key = "$default"
}

# `push` and `refresh`: their function when switched on, else the $default MOCK reply. Updated in
# place when a switch flips, so the next deployment (which depends on it) serves the new target.
resource "aws_apigatewayv2_route" "optional" {
  #checkov:skip=CKV_AWS_309:WebSocket APIs authorize once, at $connect; message routes cannot carry an authorizer and inherit the identity captured at connect.
  for_each = var.create ? local.optional_routes : {}

  api_id                              = aws_apigatewayv2_api.this[0].id
  route_key                           = each.key
  authorization_type                  = "NONE"
  target                              = each.value ? "integrations/${aws_apigatewayv2_integration.lambda[local.optional_route_functions[each.key]].id}" : "integrations/${aws_apigatewayv2_integration.default[0].id}"
  route_response_selection_expression = each.value ? null : "$default"
}

resource "aws_apigatewayv2_route_response" "optional" {
  for_each = { for k, on in(var.create ? local.optional_routes : {}) : k => on if !on }

  api_id             = aws_apigatewayv2_api.this[0].id
  route_id           = aws_apigatewayv2_route.optional[each.key].id
  route_response_key = "$default"
}

# WebSocket APIs do not redeploy by themselves: a new deployment whenever any routed piece changes.
resource "aws_apigatewayv2_deployment" "this" {
  count = var.create && !var.auto_deploy ? 1 : 0

  api_id      = aws_apigatewayv2_api.this[0].id
  description = "Routes: ${join(", ", sort(concat(keys(local.routes), ["$default"])))}"

  # Hash of what defines the routing, all known at plan time. Hashing the resources themselves
  # would also hash attributes the provider fills in on refresh, and replace the deployment on
  # every plan. depends_on orders the deployment after every routed piece it snapshots.
  triggers = {
    redeployment = sha1(jsonencode({
      routes       = local.routes
      switched     = local.optional_routes
      integrations = { for f in local.integrations : f => var.functions[f].invoke_arn }
      authorizer = local.authorize ? {
        uri              = var.functions["authorizer"].invoke_arn
        identity_sources = local.identity_sources[var.authorizer_identity_source]
      } : null
      default_reply = local.default_reply
    }))
  }

  depends_on = [
    aws_apigatewayv2_route.lambda,
    aws_apigatewayv2_route.optional,
    aws_apigatewayv2_route_response.optional,
    aws_apigatewayv2_integration.lambda,
    aws_apigatewayv2_authorizer.this,
    aws_apigatewayv2_route.default,
    aws_apigatewayv2_integration.default,
    aws_apigatewayv2_integration_response.default,
    aws_apigatewayv2_route_response.default,
    aws_lambda_permission.route,
    aws_lambda_permission.authorizer,
  ]

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is a cost decision left to the consumer (log_retention_days, default 30 days); one year is available.
  #checkov:skip=CKV_AWS_158:A KMS key is optional (log_kms_key_arn); CloudWatch Logs encrypts at rest by default.
  count = var.create && var.enable_access_logs ? 1 : 0

  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

# API Gateway writes execution logs to a group of its own naming and creates it, without
# retention, on first use. Created here first so retention and encryption apply.
resource "aws_cloudwatch_log_group" "execution" {
  #checkov:skip=CKV_AWS_338:Retention is a cost decision left to the consumer (log_retention_days, default 30 days); one year is available.
  #checkov:skip=CKV_AWS_158:A KMS key is optional (log_kms_key_arn); CloudWatch Logs encrypts at rest by default.
  count = var.create && var.logging_level != "OFF" ? 1 : 0

  name              = "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.this[0].id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  #checkov:skip=CKV2_AWS_51:A stage client certificate authenticates API Gateway to HTTP backends; every integration here is a Lambda invoked through IAM (or a MOCK), and clients authenticate with a JWT at $connect.
  count = var.create ? 1 : 0

  api_id        = aws_apigatewayv2_api.this[0].id
  name          = var.stage_name
  deployment_id = var.auto_deploy ? null : aws_apigatewayv2_deployment.this[0].id
  auto_deploy   = var.auto_deploy
  tags          = var.tags

  default_route_settings {
    throttling_burst_limit   = var.throttling_burst_limit
    throttling_rate_limit    = var.throttling_rate_limit
    detailed_metrics_enabled = var.detailed_metrics_enabled
    logging_level            = var.logging_level
    # Data trace would copy whole frames (notifications, tokens in $connect) into logs.
    data_trace_enabled = false
  }

  # One noisy route (client push, poll) cannot use the whole stage's budget. Both limits are
  # always set: a route_settings block without them throttles the route to 0.
  dynamic "route_settings" {
    for_each = local.route_throttling
    content {
      route_key                = route_settings.key
      throttling_burst_limit   = route_settings.value.burst_limit
      throttling_rate_limit    = route_settings.value.rate_limit
      detailed_metrics_enabled = var.detailed_metrics_enabled
      logging_level            = var.logging_level
      data_trace_enabled       = false
    }
  }

  dynamic "access_log_settings" {
    for_each = aws_cloudwatch_log_group.access
    content {
      destination_arn = access_log_settings.value.arn
      format          = local.access_log_format
    }
  }

  # Route settings name routes, which must exist first (with auto_deploy there is no deployment
  # in between to order them).
  depends_on = [aws_cloudwatch_log_group.execution, aws_apigatewayv2_route.lambda, aws_apigatewayv2_route.optional]

  lifecycle {
    # AWS refuses (half-way through the first apply) any stage logging until the account and
    # Region have an API Gateway CloudWatch role. Refuse it at plan instead, with the way out.
    precondition {
      condition     = !local.logging_enabled || var.account_logging_role_ready
      error_message = "WebSocket stage logging (access logs or logging_level != OFF) needs this Region's API Gateway CloudWatch role, or AWS fails the stage with \"CloudWatch Logs role ARN must be set in account settings to enable logging\". Set it once per Region (modules/api-gateway-account in a bootstrap stack) and set api_gateway_account_role_exists = true, or let this module set it (create_api_gateway_account_role = true)."
    }
  }
}

resource "aws_lambda_permission" "route" {
  for_each = local.routes

  statement_id  = "AllowApiGateway-${replace(each.key, "$", "")}"
  action        = "lambda:InvokeFunction"
  function_name = var.functions[each.value].function_name
  principal     = data.aws_service_principal.apigateway.name
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/${var.stage_name}/${each.key}"
}

resource "aws_lambda_permission" "authorizer" {
  count = local.authorize ? 1 : 0

  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.functions["authorizer"].function_name
  principal     = data.aws_service_principal.apigateway.name
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
}

# v0.1 created the push route only when enabled, under the route map.
moved {
  from = aws_apigatewayv2_route.lambda["push"]
  to   = aws_apigatewayv2_route.optional["push"]
}

data "aws_service_principal" "apigateway" {
  service_name = "apigateway"
}
