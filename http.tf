# The management HTTP API (create_http_api; contract: docs/openapi.yaml). Two audiences:
# - backends, AWS_IAM (SigV4) on every route: a caller needs execute-api:Invoke on the route ARN
#   (output http_api_route_arns);
# - end users under /v1/me, JWT: API Gateway's native JWT authorizer in jwks mode (issuer +
#   audience), the project's Lambda authorizer (REQUEST, simple responses) in hs256 mode.
# One function per resource group (docs/architecture.md): push (POST /v1/notifications), users
# (presence, revocation and profiles), me (the caller's history); each keeps its own
# least-privilege role.

locals {
  create_http   = var.create && var.create_http_api
  http_me       = local.create_http && local.auth_enabled
  http_jwt_mode = var.auth.mode == "jwks"

  # route key => function; /v1/me only when there is a user identity to scope it to.
  http_routes = merge(
    {
      "POST /v1/notifications"                = "push"
      "GET /v1/users/{userId}/connections"    = "users"
      "DELETE /v1/users/{userId}/connections" = "users"
      "PUT /v1/users/{userId}"                = "users"
      "GET /v1/users/{userId}"                = "users"
      "DELETE /v1/users/{userId}"             = "users"
    },
    local.auth_enabled ? { "GET /v1/me/notifications" = "me" } : {},
    var.scheduling.enabled ? {
      "GET /v1/schedules"                 = "schedules"
      "GET /v1/schedules/{scheduleId}"    = "schedules"
      "PATCH /v1/schedules/{scheduleId}"  = "schedules"
      "DELETE /v1/schedules/{scheduleId}" = "schedules"
    } : {},
    # Fan-out jobs: progress and cancel (docs/openapi.yaml).
    var.fanout.enabled ? {
      "GET /v1/notifications/{notificationId}"    = "push"
      "DELETE /v1/notifications/{notificationId}" = "push"
    } : {},
    local.mobile_enabled ? {
      "PUT /v1/users/{userId}/devices/{token}"    = "devices"
      "DELETE /v1/users/{userId}/devices/{token}" = "devices"
      "GET /v1/users/{userId}/devices"            = "devices"
    } : {},
    local.mobile_enabled && local.auth_enabled ? {
      "PUT /v1/me/devices/{token}"    = "devices"
      "DELETE /v1/me/devices/{token}" = "devices"
      "GET /v1/me/devices"            = "devices"
    } : {},
    # Topics: backends manage anybody's subscriptions, end users their own (topics.tf).
    local.topics_enabled ? {
      "PUT /v1/topics/{topic}/subscribers/{userId}"    = "topics"
      "DELETE /v1/topics/{topic}/subscribers/{userId}" = "topics"
      "GET /v1/topics/{topic}/subscribers"             = "topics"
    } : {},
    local.topics_enabled && local.auth_enabled ? {
      "GET /v1/me/subscriptions"            = "topics"
      "GET /v1/me/subscriptions/{topic}"    = "topics"
      "PUT /v1/me/subscriptions/{topic}"    = "topics"
      "DELETE /v1/me/subscriptions/{topic}" = "topics"
    } : {},
  )
  # Routes under /v1/me take the end user's token; every other route takes SigV4.
  http_user_routes = toset([for k in keys(local.http_routes) : k if startswith(split(" ", k)[1], "/v1/me/")])
  http_functions   = local.create_http ? toset(values(local.http_routes)) : toset([])

  # execute-api ARN of each route: {execution_arn}/{stage}/{METHOD}/{path with * for parameters}.
  http_route_arns = local.create_http ? {
    for key in keys(local.http_routes) : key => join("", [
      aws_apigatewayv2_api.http[0].execution_arn, "/$default/", split(" ", key)[0],
      replace(split(" ", key)[1], "/\\{[^}]+\\}/", "*"),
    ])
  } : {}
}

resource "aws_apigatewayv2_api" "http" {
  count = local.create_http ? 1 : 0

  name          = "${var.name_prefix}-http"
  description   = "Management HTTP API of ${var.name_prefix} (IAM for backends, JWT for end users)"
  protocol_type = "HTTP"
  tags          = var.tags

  # API-wide in HTTP APIs; only the /v1/me methods (GET; PUT and DELETE of devices with mobile
  # push) and the Authorization header are allowed cross-origin.
  dynamic "cors_configuration" {
    for_each = length(var.http_api.cors_allow_origins) > 0 ? [1] : []
    content {
      allow_origins  = var.http_api.cors_allow_origins
      allow_methods  = local.http_me_writes ? ["DELETE", "GET", "PUT"] : ["GET"]
      allow_headers  = local.http_me_writes ? ["authorization", "content-type"] : ["authorization"]
      expose_headers = ["x-request-id"]
      max_age        = var.http_api.cors_max_age_seconds
    }
  }
}

resource "aws_apigatewayv2_integration" "http" {
  for_each = local.http_functions

  api_id                 = aws_apigatewayv2_api.http[0].id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this[each.key].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_authorizer" "http" {
  count = local.http_me ? 1 : 0

  api_id           = aws_apigatewayv2_api.http[0].id
  name             = "${var.name_prefix}-${local.http_jwt_mode ? "jwt" : "lambda"}"
  authorizer_type  = local.http_jwt_mode ? "JWT" : "REQUEST"
  identity_sources = ["$request.header.Authorization"]

  dynamic "jwt_configuration" {
    for_each = local.http_jwt_mode ? [1] : []
    content {
      issuer   = var.auth.issuer
      audience = [var.auth.audience]
    }
  }

  # hs256: the WebSocket authorizer's function and verification, answering simple responses.
  authorizer_uri                    = local.http_jwt_mode ? null : aws_lambda_function.this["authorizer"].invoke_arn
  authorizer_payload_format_version = local.http_jwt_mode ? null : "2.0"
  enable_simple_responses           = local.http_jwt_mode ? null : true
  authorizer_result_ttl_in_seconds  = local.http_jwt_mode ? null : 0

  lifecycle {
    precondition {
      condition     = !local.http_jwt_mode || (var.auth.issuer != null && var.auth.audience != null)
      error_message = "The HTTP API's JWT authorizer needs auth.issuer and auth.audience in jwks mode."
    }
  }
}

resource "aws_apigatewayv2_route" "http" {
  #checkov:skip=CKV_AWS_309:Every route is authorized: AWS_IAM for backends, JWT or CUSTOM for /v1/me (tests/module.tftest.hcl asserts each); checkov cannot evaluate the conditional expression.
  for_each = local.create_http ? local.http_routes : {}

  api_id             = aws_apigatewayv2_api.http[0].id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.http[each.value].id}"
  authorization_type = contains(local.http_user_routes, each.key) ? (local.http_jwt_mode ? "JWT" : "CUSTOM") : "AWS_IAM"
  authorizer_id      = contains(local.http_user_routes, each.key) ? aws_apigatewayv2_authorizer.http[0].id : null
}

resource "aws_cloudwatch_log_group" "http_access" {
  #checkov:skip=CKV_AWS_338:Retention is a cost decision left to the consumer (log_retention_days, default 30 days); one year is available.
  #checkov:skip=CKV_AWS_158:A KMS key is optional (log_kms_key_arn); CloudWatch Logs encrypts at rest by default.
  count = local.create_http && var.http_api.access_log_enabled ? 1 : 0

  name              = "/aws/apigateway/${var.name_prefix}-http/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "http" {
  #checkov:skip=CKV_AWS_76:Access logging is on by default (http_api.access_log_enabled); turning it off is the consumer's explicit choice.
  count = local.create_http ? 1 : 0

  api_id = aws_apigatewayv2_api.http[0].id
  name   = "$default"
  # HTTP APIs redeploy themselves on every change; WebSocket APIs (modules/websocket-api) do not.
  auto_deploy = true
  tags        = var.tags

  default_route_settings {
    throttling_burst_limit   = var.http_api.default_throttling.burst_limit
    throttling_rate_limit    = var.http_api.default_throttling.rate_limit
    detailed_metrics_enabled = true
  }

  dynamic "route_settings" {
    for_each = { for k, v in var.http_api.route_throttling : k => v if contains(keys(local.http_routes), k) }
    content {
      route_key                = route_settings.key
      throttling_burst_limit   = route_settings.value.burst_limit
      throttling_rate_limit    = route_settings.value.rate_limit
      detailed_metrics_enabled = true
    }
  }

  dynamic "access_log_settings" {
    for_each = var.http_api.access_log_enabled ? [1] : []
    content {
      destination_arn = aws_cloudwatch_log_group.http_access[0].arn
      # No token, no body: the caller is the IAM ARN or the authorizer's principal.
      format = jsonencode({
        requestId          = "$context.requestId"
        requestTime        = "$context.requestTimeEpoch"
        sourceIp           = "$context.identity.sourceIp"
        userArn            = "$context.identity.userArn"
        principalId        = "$context.authorizer.principalId"
        routeKey           = "$context.routeKey"
        status             = "$context.status"
        responseLength     = "$context.responseLength"
        integrationLatency = "$context.integrationLatency"
        error              = "$context.error.message"
        authorizerError    = "$context.authorizer.error"
      })
    }
  }

  depends_on = [aws_apigatewayv2_route.http]
}

data "aws_service_principal" "apigateway" {
  service_name = "apigateway"
}

resource "aws_lambda_permission" "http" {
  for_each = local.create_http ? local.http_routes : {}

  statement_id  = "AllowHttpApi-${replace(replace(each.key, "/[^A-Za-z0-9]+/", "-"), "/-$/", "")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.value].function_name
  principal     = data.aws_service_principal.apigateway.name
  source_arn    = local.http_route_arns[each.key]
}

resource "aws_lambda_permission" "http_authorizer" {
  count = local.http_me && !local.http_jwt_mode ? 1 : 0

  statement_id  = "AllowHttpApiAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["authorizer"].function_name
  principal     = data.aws_service_principal.apigateway.name
  source_arn    = "${aws_apigatewayv2_api.http[0].execution_arn}/authorizers/${aws_apigatewayv2_authorizer.http[0].id}"
}
