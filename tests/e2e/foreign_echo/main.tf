# A small WebSocket API that is not this project's: one echo function behind $default, no
# authorizer, no outputs the local stack knows. `python -m local up --example` must serve it
# (tests/e2e/test_foreign_example.py).
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}

provider "aws" {
  region = "us-west-2"
}

data "archive_file" "echo" {
  type        = "zip"
  source_file = "${path.module}/echo.py"
  output_path = "${path.module}/build/echo.zip"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "echo" {
  name               = "foreign-echo"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_lambda_function" "echo" {
  function_name    = "foreign-echo"
  role             = aws_iam_role.echo.arn
  runtime          = "python3.12"
  handler          = "echo.handler"
  filename         = data.archive_file.echo.output_path
  source_code_hash = data.archive_file.echo.output_base64sha256
}

resource "aws_apigatewayv2_api" "echo" {
  name                       = "foreign-echo"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_integration" "echo" {
  api_id           = aws_apigatewayv2_api.echo.id
  integration_type = "AWS_PROXY"
  integration_uri  = aws_lambda_function.echo.invoke_arn
}

resource "aws_apigatewayv2_route" "default" {
  api_id    = aws_apigatewayv2_api.echo.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.echo.id}"
}

resource "aws_apigatewayv2_route_response" "default" {
  api_id             = aws_apigatewayv2_api.echo.id
  route_id           = aws_apigatewayv2_route.default.id
  route_response_key = "$default"
}

resource "aws_apigatewayv2_deployment" "echo" {
  api_id = aws_apigatewayv2_api.echo.id

  depends_on = [aws_apigatewayv2_route.default, aws_apigatewayv2_route_response.default]
}

resource "aws_apigatewayv2_stage" "echo" {
  api_id        = aws_apigatewayv2_api.echo.id
  name          = "live"
  deployment_id = aws_apigatewayv2_deployment.echo.id
}

resource "aws_lambda_permission" "echo" {
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.echo.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.echo.execution_arn}/*/*"
}
