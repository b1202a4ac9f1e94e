# Optional HTTP publish endpoint: `POST /notifications` with IAM (SigV4) authorization, for
# backends that are not allowed to call lambda:InvokeFunction directly. Nothing is public:
# a caller needs execute-api:Invoke on http_publish_route_arn.

locals {
  # The route a backend may invoke: the Lambda permission grants it and an output publishes it.
  http_publish_route_arn = try("${aws_apigatewayv2_api.http[0].execution_arn}/${aws_apigatewayv2_stage.http[0].name}/POST/notifications", null)
  create_http            = var.create && var.create_http_publish_endpoint
}

resource "aws_apigatewayv2_api" "http" {
  count = local.create_http ? 1 : 0

  name          = "${var.name_prefix}-publish"
  description   = "SigV4-authorized publish endpoint of ${var.name_prefix}"
  protocol_type = "HTTP"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "http_push" {
  count = local.create_http ? 1 : 0

  api_id                 = aws_apigatewayv2_api.http[0].id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this["push"].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "http_push" {
  count = local.create_http ? 1 : 0

  api_id             = aws_apigatewayv2_api.http[0].id
  route_key          = "POST /notifications"
  target             = "integrations/${aws_apigatewayv2_integration.http_push[0].id}"
  authorization_type = "AWS_IAM"
}

resource "aws_cloudwatch_log_group" "http_access" {
  #checkov:skip=CKV_AWS_338:Retention is a cost decision left to the consumer (log_retention_days, default 30 days); one year is available.
  #checkov:skip=CKV_AWS_158:A KMS key is optional (log_kms_key_arn); CloudWatch Logs encrypts at rest by default.
  count = local.create_http ? 1 : 0

  name              = "/aws/apigateway/${var.name_prefix}-publish/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "http" {
  count = local.create_http ? 1 : 0

  api_id = aws_apigatewayv2_api.http[0].id
  name   = "$default"
  # HTTP APIs redeploy themselves on every change; WebSocket APIs (modules/websocket-api) do not.
  auto_deploy = true
  tags        = var.tags

  default_route_settings {
    throttling_burst_limit   = var.http_publish_throttling.burst_limit
    throttling_rate_limit    = var.http_publish_throttling.rate_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.http_access[0].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTimeEpoch"
      sourceIp           = "$context.identity.sourceIp"
      caller             = "$context.identity.caller"
      userArn            = "$context.identity.userArn"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationLatency = "$context.integrationLatency"
      error              = "$context.error.message"
    })
  }
}

data "aws_service_principal" "apigateway" {
  service_name = "apigateway"
}

resource "aws_lambda_permission" "http_push" {
  count = local.create_http ? 1 : 0

  statement_id  = "AllowHttpPublish"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["push"].function_name
  principal     = data.aws_service_principal.apigateway.name
  source_arn    = local.http_publish_route_arn
}
