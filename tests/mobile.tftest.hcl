# Mobile push (issue 11): the device registry, the devices function and its routes, the
# platform applications (by ARN or from a Secrets Manager secret) and the IAM statements: SNS
# actions on "*" (no resource-level permissions for platform applications or endpoints), the
# DynamoDB ones scoped to the registry. Plan only, against a mocked AWS provider.
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


override_resource {
  target          = module.tables.aws_dynamodb_table.devices[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-devices", name = "ws-notify-devices" }
}

override_data {
  target = data.aws_secretsmanager_secret_version.platform["APNS"]
  values = { secret_string = "{\"platform_credential\":\"-----BEGIN PRIVATE KEY-----x\",\"platform_principal\":\"KEYID12345\",\"apple_platform_team_id\":\"TEAM123456\",\"apple_platform_bundle_id\":\"com.example.app\"}" }
}

override_resource {
  target          = aws_sns_platform_application.this["APNS"]
  override_during = plan
  values          = { arn = "arn:aws:sns:eu-west-1:111122223333:app/APNS/ws-notify-apns" }
}

variables {
  name_prefix = "ws-notify"
}

run "mobile_push_off_by_default" {
  command = plan

  assert {
    condition     = !contains(keys(aws_lambda_function.this), "devices") && module.tables.devices_table_name == null && length(aws_sns_platform_application.this) == 0
    error_message = "no devices function, table or platform application without mobile_push"
  }

  assert {
    condition     = !strcontains(module.iam.policy_documents["push"], "sns:")
    error_message = "push has no SNS permission without mobile push"
  }
}

run "mobile_push" {
  command = plan

  override_resource {
    target          = aws_apigatewayv2_api.http[0]
    override_during = plan
    values          = { id = "http123", execution_arn = "arn:aws:execute-api:eu-west-1:111122223333:http123" }
  }

  variables {
    create_http_api = true
    mobile_push = {
      platform_applications = {
        GCM  = { arn = "arn:aws:sns:eu-west-1:111122223333:app/GCM/example" }
        APNS = { secret_name = "example/apns" }
      }
      success_sample_rate       = 10
      failure_feedback_role_arn = "arn:aws:iam::111122223333:role/sns-delivery-logs"
    }
  }

  assert {
    condition     = contains(keys(aws_lambda_function.this), "devices") && module.tables.devices_table_name == "ws-notify-devices"
    error_message = "mobile push creates the devices function and the registry"
  }

  assert {
    condition     = keys(aws_sns_platform_application.this) == ["APNS"] && aws_sns_platform_application.this["APNS"].platform == "APNS" && aws_sns_platform_application.this["APNS"].apple_platform_team_id == "TEAM123456"
    error_message = "only the platform given by secret is created here, from the secret's fields"
  }

  assert {
    condition     = aws_sns_platform_application.this["APNS"].failure_feedback_role_arn == "arn:aws:iam::111122223333:role/sns-delivery-logs" && aws_sns_platform_application.this["APNS"].success_feedback_role_arn == "arn:aws:iam::111122223333:role/sns-delivery-logs" && tostring(aws_sns_platform_application.this["APNS"].success_feedback_sample_rate) == "10"
    error_message = "delivery status logging: failure role, success role defaulting to it, sample rate"
  }

  assert {
    condition     = jsondecode(aws_lambda_function.this["push"].environment[0].variables.PLATFORM_APPLICATIONS) == { GCM = "arn:aws:sns:eu-west-1:111122223333:app/GCM/example", APNS = "arn:aws:sns:eu-west-1:111122223333:app/APNS/ws-notify-apns" } && aws_lambda_function.this["devices"].environment[0].variables.DEVICES_TABLE == "ws-notify-devices" && aws_lambda_function.this["push"].environment[0].variables.DEVICES_USER_INDEX == "userId-index"
    error_message = "push and devices learn the registry and the platform applications"
  }

  assert {
    condition = alltrue([for k in [
      "PUT /v1/me/devices/{token}", "DELETE /v1/me/devices/{token}", "GET /v1/me/devices",
      "PUT /v1/users/{userId}/devices/{token}", "DELETE /v1/users/{userId}/devices/{token}", "GET /v1/users/{userId}/devices",
    ] : contains(keys(aws_apigatewayv2_route.http), k)])
    error_message = "the six device routes exist"
  }

  assert {
    condition     = alltrue([for k, r in aws_apigatewayv2_route.http : r.authorization_type == (startswith(k, "GET /v1/me/") || startswith(k, "PUT /v1/me/") || startswith(k, "DELETE /v1/me/") ? "CUSTOM" : "AWS_IAM")])
    error_message = "/v1/me device routes take the user's token, /v1/users device routes SigV4"
  }

  assert {
    condition = [for s in jsondecode(module.iam.policy_documents["devices"]).Statement : s if s.Sid == "ManageDeviceEndpoints"][0].Resource == ["*"] && toset([for s in jsondecode(module.iam.policy_documents["devices"]).Statement : s if s.Sid == "ManageDeviceEndpoints"][0].Action) == toset([
      "sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint",
    ])
    error_message = "devices: the four endpoint actions, on * (SNS has no resource type for endpoints)"
  }

  assert {
    condition     = [for s in jsondecode(module.iam.policy_documents["devices"]).Statement : s if s.Sid == "KeepDeviceRegistry"][0].Resource == ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-devices"] && [for s in jsondecode(module.iam.policy_documents["devices"]).Statement : s if s.Sid == "ListUserDevices"][0].Resource == ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-devices/index/userId-index"]
    error_message = "devices: DynamoDB scoped to the registry and its index"
  }

  assert {
    condition     = !strcontains(module.iam.policy_documents["devices"], "execute-api") && !strcontains(module.iam.policy_documents["devices"], "sns:Publish")
    error_message = "devices neither publishes nor reaches connections"
  }

  assert {
    condition     = toset([for s in jsondecode(module.iam.policy_documents["push"]).Statement : s if s.Sid == "PublishToDeviceEndpoints"][0].Action) == toset(["sns:Publish", "sns:DeleteEndpoint"]) && [for s in jsondecode(module.iam.policy_documents["push"]).Statement : s if s.Sid == "PruneDisabledDevices"][0].Action == ["dynamodb:DeleteItem"] && [for s in jsondecode(module.iam.policy_documents["push"]).Statement : s if s.Sid == "FindUserDevices"][0].Resource == ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-devices/index/userId-index"]
    error_message = "push: Publish and DeleteEndpoint, Query on the registry's index, DeleteItem to prune"
  }

  assert {
    condition     = !strcontains(module.iam.policy_documents["push"], "sns:CreatePlatformEndpoint") && !strcontains(module.iam.policy_documents["users"], "sns:")
    error_message = "only devices creates endpoints; users has no SNS permission"
  }
}

run "platform_application_needs_arn_or_secret" {
  command = plan

  variables {
    mobile_push = { platform_applications = { WNS = { arn = "arn:aws:sns:eu-west-1:111122223333:app/WNS/x" } } }
  }

  expect_failures = [var.mobile_push]
}
