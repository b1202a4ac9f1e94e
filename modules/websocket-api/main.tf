locals {
  # Route key => function name. `push` exists only when client push is enabled, so a disabled
  # deployment has no Lambda behind client frames at all (they get the $default reply).
  lambda_routes = merge(
    {
      "$connect"    = "connect"
      "$disconnect" = "disconnect"
      "poll"        = "poll"
    },
    var.create_push_route ? { "push" = "push" } : {},
    var.create_refresh_route ? { "refresh" = "refresh" } : {},
  )
  # Per-route throttling, only for routes that exist (a setting for a missing route fails).
  route_throttling = { for k, v in var.route_throttling : k => v if contains(keys(local.routes), k) }
  routes           = var.create ? local.lambda_routes : {}
  integrations     = var.create ? toset(values(local.lambda_routes)) : toset([])

  authorize = var.create && var.enable_authorizer

  identity_sources = {
    query  = ["route.request.querystring.token"]
    header = ["route.request.header.Sec-WebSocket-Protocol"]
    either = null
  }

  # The reply of the $default MOCK integration, exactly as docs/architecture.md specifies.
  default_reply = "{\"type\":\"error\",\"id\":\"$context.requestId\",\"createdAt\":$context.requestTimeEpoch,\"error\":{\"code\":\"UNKNOWN_ACTION\",\"message\":\"Unknown or missing action. Valid actions: poll, push.\"}}"

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
  for_each = local.routes

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

# WebSocket APIs do not redeploy by themselves: a new deployment whenever any routed piece changes.
resource "aws_apigatewayv2_deployment" "this" {
  count = var.create && !var.auto_deploy ? 1 : 0

  api_id      = aws_apigatewayv2_api.this[0].id
  description = "Routes: ${join(", ", sort(concat(keys(local.routes), ["$default"])))}"

  triggers = {
    redeployment = sha1(jsonencode([
      aws_apigatewayv2_route.lambda,
      aws_apigatewayv2_integration.lambda,
      aws_apigatewayv2_authorizer.this,
      aws_apigatewayv2_route.default,
      aws_apigatewayv2_integration.default,
      aws_apigatewayv2_integration_response.default,
      aws_apigatewayv2_route_response.default,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is a cost decision left to the consumer (log_retention_days, default 30 days); one year is available.
  #checkov:skip=CKV_AWS_158:A KMS key is optional (log_kms_key_arn); CloudWatch Logs encrypts at rest by default.
  count = var.create ? 1 : 0

  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
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

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access[0].arn
    format          = local.access_log_format
  }

  # Route settings name routes, which must exist first (with auto_deploy there is no deployment
  # in between to order them).
  depends_on = [aws_api_gateway_account.this, aws_apigatewayv2_route.lambda]
}

resource "aws_lambda_permission" "route" {
  for_each = local.routes

  statement_id  = "AllowApiGateway-${replace(each.key, "$", "")}"
  action        = "lambda:InvokeFunction"
  function_name = var.functions[each.value].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/${var.stage_name}/${each.key}"
}

resource "aws_lambda_permission" "authorizer" {
  count = local.authorize ? 1 : 0

  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.functions["authorizer"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
}

# Optional Region-wide setting: the role API Gateway uses to write logs for every API in the account.
resource "aws_iam_role" "account_cloudwatch" {
  count = var.create && var.create_account_cloudwatch_role ? 1 : 0

  name = "${var.name}-apigateway-cloudwatch"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "apigateway.amazonaws.com" }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "account_cloudwatch" {
  count = var.create && var.create_account_cloudwatch_role ? 1 : 0

  role       = aws_iam_role.account_cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.create && var.create_account_cloudwatch_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.account_cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy_attachment.account_cloudwatch]
}

data "aws_partition" "current" {}
