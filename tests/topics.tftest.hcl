# Topics (issue 12): the topics function and its least-privilege role, what push, poll and me
# gain, the WebSocket and HTTP routes, the environment, the switch and input validation. Plan
# only, against a mocked AWS provider.
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
  target          = aws_apigatewayv2_api.http[0]
  override_during = plan
  values          = { id = "http01", execution_arn = "arn:aws:execute-api:eu-west-1:111122223333:http01" }
}

override_resource {
  target          = module.websocket_api.aws_apigatewayv2_integration.lambda["topics"]
  override_during = plan
  values          = { id = "int-topics" }
}

variables {
  create_http_api = true
  topics = {
    claim      = "scope_topics"
    namespaces = { news = { self_subscribe = true, history_ttl_seconds = 3600 }, live = { history = false } }
  }
}

run "topics_on_by_default" {
  command = plan

  assert {
    condition     = contains(keys(aws_lambda_function.this), "topics") && aws_lambda_function.this["topics"].handler == "topics.handler"
    error_message = "the topics function exists"
  }

  assert {
    condition = (module.tables.subscriptions_table_name == "ws-notify-subscriptions"
      && module.tables.topic_history_table_name == "ws-notify-topic-history"
    && module.tables.subscriptions_user_index_name == "userId-index")
    error_message = "both tables and the index exist"
  }

  assert {
    condition = jsondecode(aws_lambda_function.this["topics"].environment[0].variables.TOPIC_NAMESPACES) == {
      ""   = { self_subscribe = false, history = true, history_ttl_seconds = 604800 }
      news = { self_subscribe = true, history = true, history_ttl_seconds = 3600 }
      live = { self_subscribe = false, history = false, history_ttl_seconds = 604800 }
    }
    error_message = "the namespaces (key \"\" the default one) reach the function as JSON"
  }

  assert {
    condition = (aws_lambda_function.this["topics"].environment[0].variables.TOPICS_CLAIM == "scope_topics"
      && aws_lambda_function.this["authorizer"].environment[0].variables.TOPICS_CLAIM == "scope_topics"
      && aws_lambda_function.this["topics"].environment[0].variables.SUBSCRIPTIONS_TABLE == "ws-notify-subscriptions"
      && aws_lambda_function.this["topics"].environment[0].variables.SUBSCRIPTIONS_USER_INDEX == "userId-index"
      && aws_lambda_function.this["poll"].environment[0].variables.TOPIC_HISTORY_TABLE == "ws-notify-topic-history"
      && aws_lambda_function.this["me"].environment[0].variables.SUBSCRIPTIONS_TABLE == "ws-notify-subscriptions"
    && !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "SUBSCRIPTIONS_TABLE"))
    error_message = "each function gets the topic settings it reads, the authorizer only the claim name"
  }

  # Least privilege: the exact statements of the topics role.
  assert {
    condition = [for st in jsondecode(module.iam.policy_documents["topics"]).Statement : st if st.Sid != "WriteOwnLogs"] == [
      {
        Sid      = "ManageSubscriptions", Effect = "Allow",
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"],
        Resource = ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-subscriptions"]
      },
      {
        Sid      = "ListUserTopics", Effect = "Allow", Action = ["dynamodb:Query"],
        Resource = ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-subscriptions/index/userId-index"]
      },
      {
        Sid      = "PostToConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"],
        Resource = ["arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/@connections/*"]
      },
    ]
    error_message = "the topics role: the subscriptions table, its user index and replies on the WebSocket only"
  }

  assert {
    condition = (contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid      = "ReadTopicSubscribers", Effect = "Allow", Action = ["dynamodb:Query"],
      Resource = ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-subscriptions"]
      }) && contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid      = "StoreTopicNotification", Effect = "Allow", Action = ["dynamodb:PutItem"],
      Resource = ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-topic-history"]
    }))
    error_message = "push reads subscribers (Query) and writes the topic's history (PutItem)"
  }

  assert {
    condition = alltrue([for f in ["poll", "me"] :
      contains(jsondecode(module.iam.policy_documents[f]).Statement, {
        Sid      = "CheckTopicSubscription", Effect = "Allow", Action = ["dynamodb:GetItem"],
        Resource = ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-subscriptions"]
        }) && contains(jsondecode(module.iam.policy_documents[f]).Statement, {
        Sid      = "ReadTopicHistory", Effect = "Allow", Action = ["dynamodb:Query"],
        Resource = ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-topic-history"]
      })
    ])
    error_message = "poll and me check membership (GetItem) and read topic history (Query)"
  }

  assert {
    condition = alltrue([for k in ["subscribe", "unsubscribe"] :
    contains(keys(module.websocket_api.route_ids), k)])
    error_message = "the subscribe and unsubscribe routes exist"
  }

  assert {
    condition = {
      for k in [
        "PUT /v1/topics/{topic}/subscribers/{userId}", "DELETE /v1/topics/{topic}/subscribers/{userId}",
        "GET /v1/topics/{topic}/subscribers", "GET /v1/me/subscriptions", "GET /v1/me/subscriptions/{topic}",
        "PUT /v1/me/subscriptions/{topic}", "DELETE /v1/me/subscriptions/{topic}",
      ] : k => aws_apigatewayv2_route.http[k].authorization_type
      } == {
      "PUT /v1/topics/{topic}/subscribers/{userId}"    = "AWS_IAM"
      "DELETE /v1/topics/{topic}/subscribers/{userId}" = "AWS_IAM"
      "GET /v1/topics/{topic}/subscribers"             = "AWS_IAM"
      "GET /v1/me/subscriptions"                       = "CUSTOM"
      "GET /v1/me/subscriptions/{topic}"               = "CUSTOM"
      "PUT /v1/me/subscriptions/{topic}"               = "CUSTOM"
      "DELETE /v1/me/subscriptions/{topic}"            = "CUSTOM"
    }
    error_message = "IAM for /v1/topics/*, the token (hs256: the Lambda authorizer) for /v1/me/subscriptions*"
  }

  assert {
    condition = (local.http_route_arns["PUT /v1/topics/{topic}/subscribers/{userId}"] == "arn:aws:execute-api:eu-west-1:111122223333:http01/$default/PUT/v1/topics/*/subscribers/*"
    && aws_lambda_permission.http["GET /v1/topics/{topic}/subscribers"].function_name == "ws-notify-topics")
    error_message = "route ARNs for backends' policies; the topics function behind the routes"
  }
}

run "topics_off" {
  command = plan

  variables {
    topics = { enabled = false }
  }

  assert {
    condition = alltrue([
      !contains(keys(aws_lambda_function.this), "topics"),
      module.tables.subscriptions_table_name == null,
      module.tables.topic_history_table_name == null,
      !strcontains(module.iam.policy_documents["push"], "Topic"),
      !strcontains(module.iam.policy_documents["poll"], "Topic"),
      !contains(keys(aws_lambda_function.this["push"].environment[0].variables), "SUBSCRIPTIONS_TABLE"),
      !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "TOPICS_CLAIM"),
      length([for k in keys(aws_apigatewayv2_route.http) : k if strcontains(k, "topics") || strcontains(k, "subscriptions")]) == 0,
    ])
    error_message = "switched off: no function, table, statement, setting or route of topics"
  }
}

run "rejects_invalid_topics" {
  command = plan

  variables {
    topics = {
      claim             = "bad claim"
      default_namespace = { history_ttl_seconds = 10 }
      namespaces        = { "News!" = {} }
    }
  }

  expect_failures = [var.topics]
}
