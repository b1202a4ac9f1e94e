# Profiles and segments (issue 12): the users function exists with or without the HTTP API, its
# profile routes take SigV4, both functions get the table names and the declared attributes,
# and the IAM statements are scoped to the two tables (no Scan). Plan only, mocked provider.
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
  target          = module.tables.aws_dynamodb_table.devices[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-devices", name = "ws-notify-devices" }
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
  target          = module.tables.aws_dynamodb_table.profiles[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-profiles", name = "ws-notify-profiles" }
}

override_resource {
  target          = module.tables.aws_dynamodb_table.segment_index[0]
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-segment-index", name = "ws-notify-segment-index" }
}

variables {
  name_prefix = "ws-notify"
}

run "profiles_without_the_http_api" {
  command = plan

  assert {
    condition     = contains(keys(aws_lambda_function.this), "users") && length(aws_apigatewayv2_route.http) == 0 && output.users_function_name == "ws-notify-users"
    error_message = "users keeps the profiles (direct invoke) even without the HTTP API"
  }

  assert {
    condition = alltrue([for f in ["push", "users"] :
      aws_lambda_function.this[f].environment[0].variables.PROFILES_TABLE == "ws-notify-profiles"
      && aws_lambda_function.this[f].environment[0].variables.SEGMENT_INDEX_TABLE == "ws-notify-segment-index"
    && !contains(keys(aws_lambda_function.this[f].environment[0].variables), "SEGMENT_ATTRIBUTES")])
    error_message = "push and users get the tables; no SEGMENT_ATTRIBUTES when none is declared"
  }

  assert {
    condition     = !strcontains(module.iam.policy_documents["poll"], "profiles") && !strcontains(module.iam.policy_documents["connect"], "segment-index")
    error_message = "only push and users touch profiles"
  }
}

run "segments_declared_with_the_http_api" {
  command = plan

  variables {
    create_http_api    = true
    segment_attributes = ["plan", "country"]
    http_api = {
      route_throttling = { "PUT /v1/users/{userId}" = { burst_limit = 20, rate_limit = 10 } }
    }
  }

  assert {
    condition     = aws_lambda_function.this["push"].environment[0].variables.SEGMENT_ATTRIBUTES == "plan,country" && aws_lambda_function.this["users"].environment[0].variables.SEGMENT_ATTRIBUTES == "plan,country"
    error_message = "the declared attributes reach push and users"
  }

  assert {
    condition = alltrue([for k in ["PUT /v1/users/{userId}", "GET /v1/users/{userId}", "DELETE /v1/users/{userId}"] :
    aws_apigatewayv2_route.http[k].authorization_type == "AWS_IAM" && local.http_routes[k] == "users"])
    error_message = "the profile routes are SigV4 routes of the users function"
  }

  assert {
    condition     = aws_lambda_permission.http["PUT /v1/users/{userId}"].function_name == "ws-notify-users"
    error_message = "API Gateway may invoke users for the profile routes"
  }

  assert {
    condition     = [for r in aws_apigatewayv2_stage.http[0].route_settings : r.throttling_burst_limit if r.route_key == "PUT /v1/users/{userId}"] == [20]
    error_message = "the profile routes can be throttled by route key"
  }

  assert {
    condition = (
      [for s in jsondecode(module.iam.policy_documents["users"]).Statement : s if s.Sid == "KeepProfiles"][0].Resource == ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-profiles"]
      && toset([for s in jsondecode(module.iam.policy_documents["users"]).Statement : s if s.Sid == "KeepProfiles"][0].Action) == toset(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"])
      && [for s in jsondecode(module.iam.policy_documents["users"]).Statement : s if s.Sid == "KeepSegmentIndex"][0].Resource == ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-segment-index"]
      && toset([for s in jsondecode(module.iam.policy_documents["users"]).Statement : s if s.Sid == "KeepSegmentIndex"][0].Action) == toset(["dynamodb:PutItem", "dynamodb:DeleteItem"])
    )
    error_message = "users: Get/Put/Delete on the profiles, Put/Delete on the index, nothing wider"
  }

  assert {
    condition = (
      [for s in jsondecode(module.iam.policy_documents["push"]).Statement : s if s.Sid == "ResolveSegments"][0].Resource == ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-segment-index"]
      && toset([for s in jsondecode(module.iam.policy_documents["push"]).Statement : s if s.Sid == "ResolveSegments"][0].Action) == toset(["dynamodb:Query", "dynamodb:DeleteItem"])
      && [for s in jsondecode(module.iam.policy_documents["push"]).Statement : s if s.Sid == "ReadSegmentProfiles"][0].Action == ["dynamodb:BatchGetItem"]
      && [for s in jsondecode(module.iam.policy_documents["push"]).Statement : s if s.Sid == "ReadSegmentProfiles"][0].Resource == ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-profiles"]
    )
    error_message = "push: Query and DeleteItem on the index, BatchGetItem on the profiles"
  }

  assert {
    condition     = !anytrue([for f in ["push", "users"] : strcontains(module.iam.policy_documents[f], "dynamodb:Scan") && !contains([for s in jsondecode(module.iam.policy_documents[f]).Statement : s.Sid], "BroadcastScan")])
    error_message = "no Scan for profiles or segments"
  }
}

run "segment_attributes_are_validated" {
  command = plan

  variables {
    segment_attributes = ["plan", "a=b"]
  }

  expect_failures = [var.segment_attributes]
}
