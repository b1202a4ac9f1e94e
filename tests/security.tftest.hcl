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
