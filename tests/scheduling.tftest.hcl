# Scheduled sends (issue 13): the Scheduler role invokes only push, push and schedules manage
# schedules only in the deployment's group and pass only that role, to Scheduler only.
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

variables {
  name_prefix = "ws-notify"
}

run "scheduling_on_by_default" {
  command = plan

  assert {
    condition     = module.scheduler.group_name == "ws-notify" && aws_lambda_function.this["schedules"].handler == "schedules.handler"
    error_message = "a schedule group named after the deployment and the schedules function"
  }

  assert {
    condition = jsondecode(module.scheduler.role_policy).Statement[0] == {
      Sid      = "InvokePushOnly"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = ["arn:aws:lambda:eu-west-1:111122223333:function:ws-notify-push"]
    }
    error_message = "Scheduler's role may invoke the push function only"
  }

  assert {
    condition = length([for s in jsondecode(module.scheduler.role_policy).Statement : s
    if contains(s.Action, "lambda:InvokeFunction")]) == 1
    error_message = "no other statement lets Scheduler invoke anything"
  }

  assert {
    condition = contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid      = "CreateSchedulesInGroup"
      Effect   = "Allow"
      Action   = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"]
      Resource = ["arn:aws:scheduler:eu-west-1:111122223333:schedule/ws-notify/*"]
    })
    error_message = "push creates (and rolls back) schedules in its group only"
  }

  assert {
    condition = contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid       = "PassSchedulerRole"
      Effect    = "Allow"
      Action    = ["iam:PassRole"]
      Resource  = ["arn:aws:iam::111122223333:role/ws-notify-scheduler-eu-west-1"]
      Condition = { StringEquals = { "iam:PassedToService" = "scheduler.amazonaws.com" } }
    })
    error_message = "push passes only the Scheduler role, and only to Scheduler"
  }

  assert {
    condition = contains(jsondecode(module.iam.policy_documents["push"]).Statement, {
      Sid      = "RecordSchedules"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      Resource = ["arn:aws:dynamodb:eu-west-1:111122223333:table/ws-notify-schedules"]
    })
    error_message = "push records schedules in the schedules table only"
  }

  assert {
    condition = alltrue([for s in jsondecode(module.iam.policy_documents["schedules"]).Statement :
      alltrue([for r in s.Resource : r == "arn:aws:scheduler:eu-west-1:111122223333:schedule/ws-notify/*"])
    if anytrue([for a in s.Action : startswith(a, "scheduler:")])])
    error_message = "the schedules function manages schedules of its group only"
  }

  assert {
    condition = [for s in jsondecode(module.iam.policy_documents["schedules"]).Statement : s.Sid] == [
      "ManageSchedulesInGroup", "KeepScheduleRecords", "ListTargetSchedules", "PassSchedulerRole", "ReadProfileTimezones", "WriteOwnLogs",
    ]
    error_message = "the schedules role: its group, its table and index, the Scheduler role, its logs"
  }

  assert {
    condition     = jsondecode(module.iam.policy_documents["schedules"]).Statement[3].Condition == { StringEquals = { "iam:PassedToService" = "scheduler.amazonaws.com" } }
    error_message = "schedules passes the Scheduler role to Scheduler only"
  }

  assert {
    condition     = aws_lambda_function.this["schedules"].environment[0].variables.SCHEDULE_GROUP == "ws-notify" && aws_lambda_function.this["schedules"].environment[0].variables.SCHEDULES_TABLE == "ws-notify-schedules"
    error_message = "the schedules function reads the group and the table"
  }

  assert {
    condition     = module.scheduler.assume_role_policy == jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" }, Condition = { StringEquals = { "aws:SourceAccount" = "111122223333" }, ArnEquals = { "aws:SourceArn" = "arn:aws:scheduler:eu-west-1:111122223333:schedule-group/ws-notify" } } }] })
    error_message = "only this account's schedules of this group may assume the role (the mocked service principal reads lambda here)"
  }

  assert {
    condition     = module.tables.schedules_table_name == "ws-notify-schedules"
    error_message = "the schedules table"
  }
}

run "scheduling_off" {
  command = plan

  variables {
    scheduling = { enabled = false }
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this), "schedules") && module.scheduler.group_name == null && module.tables.schedules_table_name == null
    error_message = "no function, group or table when scheduling is off"
  }

  assert {
    condition     = !strcontains(module.iam.policy_documents["push"], "scheduler:") && !strcontains(module.iam.policy_documents["push"], "iam:PassRole")
    error_message = "push gets no Scheduler permissions when scheduling is off"
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this["push"].environment[0].variables), "SCHEDULE_GROUP")
    error_message = "push has no scheduling settings when scheduling is off"
  }
}

run "scheduling_inputs_are_validated" {
  command = plan

  variables {
    scheduling = { retry_attempts = 186, maximum_event_age_seconds = 30, default_timezone = "not a zone" }
  }

  expect_failures = [var.scheduling]
}
