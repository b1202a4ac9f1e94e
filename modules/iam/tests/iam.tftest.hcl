# Unit tests of the IAM module: every statement's actions and resources, and the switches.
mock_provider "aws" {
  # The partition's DNS suffix appears in kms:ViaService conditions and the trust policy.
  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }

  mock_data "aws_service_principal" {
    defaults = {
      name = "lambda.amazonaws.com"
    }
  }
}

variables {
  name_prefix                = "t"
  region                     = "eu-west-1"
  connections_table_arn      = "arn:aws:dynamodb:eu-west-1:111122223333:table/t-connections"
  connections_user_index_arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/t-connections/index/userId-index"
  notifications_table_arn    = "arn:aws:dynamodb:eu-west-1:111122223333:table/t-notifications"
  api_execution_arn          = "arn:aws:execute-api:eu-west-1:111122223333:abc123"
  stage_name                 = "prod"
  jwt_secret_parameter_arn   = "arn:aws:ssm:eu-west-1:111122223333:parameter/t/jwt-secret"
  log_group_arns = {
    connect    = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/t-connect"
    disconnect = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/t-disconnect"
    push       = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/t-push"
    poll       = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/t-poll"
    authorizer = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/t-authorizer"
    refresh    = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/t-refresh"
    sweeper    = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/t-sweeper"
  }
  connections_expiry_index_arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/t-connections/index/tokenExpiresAt-index"
}

run "least_privilege_statements" {
  command = plan

  assert {
    condition     = toset(keys(aws_iam_role.this)) == toset(["connect", "disconnect", "push", "poll", "authorizer", "refresh", "sweeper"])
    error_message = "one role per function expected"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["connect"].policy).Statement == [
      { Sid = "RegisterConnection", Effect = "Allow", Action = ["dynamodb:PutItem"], Resource = [var.connections_table_arn] },
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${var.log_group_arns.connect}:*"] },
    ]
    error_message = "connect may only PutItem on the connections table and write its own logs"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["disconnect"].policy).Statement == [
      { Sid = "ForgetConnection", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = [var.connections_table_arn] },
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${var.log_group_arns.disconnect}:*"] },
    ]
    error_message = "disconnect may only DeleteItem on the connections table and write its own logs"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["push"].policy).Statement == [
      { Sid = "FindUserConnections", Effect = "Allow", Action = ["dynamodb:Query"], Resource = [var.connections_user_index_arn] },
      { Sid = "StoreNotification", Effect = "Allow", Action = ["dynamodb:PutItem"], Resource = [var.notifications_table_arn] },
      { Sid = "PruneStaleConnections", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = [var.connections_table_arn] },
      { Sid = "PostToConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"], Resource = ["arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/@connections/*"] },
      { Sid = "CloseConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"], Resource = ["arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/DELETE/@connections/*"] },
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${var.log_group_arns.push}:*"] },
    ]
    error_message = "push statements differ from least privilege (no Scan without broadcast)"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["poll"].policy).Statement == [
      { Sid = "ReadHistory", Effect = "Allow", Action = ["dynamodb:Query"], Resource = [var.notifications_table_arn] },
      { Sid = "PostToConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"], Resource = ["arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/@connections/*"] },
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${var.log_group_arns.poll}:*"] },
    ]
    error_message = "poll may only Query history and post to connections of this stage"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement == [
      { Sid = "ReadJwtSecret", Effect = "Allow", Action = ["ssm:GetParameters"], Resource = [var.jwt_secret_parameter_arn] },
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${var.log_group_arns.authorizer}:*"] },
    ]
    error_message = "authorizer may only read its one parameter (no kms without a key)"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["refresh"].policy).Statement == [
      { Sid = "ExtendTokenExpiry", Effect = "Allow", Action = ["dynamodb:UpdateItem"], Resource = [var.connections_table_arn] },
      { Sid = "PostToConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"], Resource = ["arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/@connections/*"] },
      { Sid = "ReadJwtSecret", Effect = "Allow", Action = ["ssm:GetParameters"], Resource = [var.jwt_secret_parameter_arn] },
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${var.log_group_arns.refresh}:*"] },
    ]
    error_message = "refresh may only move a connection's expiry, reply, and read the JWT secret"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["sweeper"].policy).Statement == [
      { Sid = "FindExpiredConnections", Effect = "Allow", Action = ["dynamodb:Query"], Resource = [var.connections_expiry_index_arn] },
      { Sid = "ForgetClosedConnections", Effect = "Allow", Action = ["dynamodb:DeleteItem"], Resource = [var.connections_table_arn] },
      { Sid = "CloseConnections", Effect = "Allow", Action = ["execute-api:ManageConnections"], Resource = ["arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/DELETE/@connections/*"] },
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${var.log_group_arns.sweeper}:*"] },
    ]
    error_message = "the sweeper may only Query the expiry index, delete rows and close connections (no Scan)"
  }

  assert {
    condition = alltrue([
      for name, p in aws_iam_role_policy.this : alltrue([
        for s in jsondecode(p.policy).Statement : !contains(flatten([s.Resource]), "*")
      ])
    ])
    error_message = "no statement may use a * resource"
  }

  assert {
    condition     = jsondecode(aws_iam_role.this["push"].assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = "roles must be assumable by Lambda only"
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.xray) == 0
    error_message = "no X-Ray policy without tracing"
  }

  assert {
    condition     = alltrue([for k, r in aws_iam_role.this : r.name == "t-${k}-eu-west-1"])
    error_message = "role names carry the Region (IAM names are account-global; a second Region must not collide)"
  }
}

# The longest prefix (38) with the longest Region names in use today (14) fits exactly; anything
# longer must fail at plan, not half-way through an apply.
run "role_names_fit_iam_limit" {
  command = plan

  variables {
    name_prefix = "a-thirty-eight-character-name-prefix12"
    region      = "ap-southeast-22"
  }

  expect_failures = [aws_iam_role.this]
}

run "broadcast_grants_scan_on_the_connections_table" {
  command = plan

  variables {
    enable_broadcast = true
  }

  assert {
    condition = contains(jsondecode(aws_iam_role_policy.this["push"].policy).Statement, {
      Sid = "BroadcastScan", Effect = "Allow", Action = ["dynamodb:Scan"], Resource = [var.connections_table_arn]
    })
    error_message = "broadcast needs dynamodb:Scan on the connections table"
  }
}

run "auth_disabled_lets_poll_and_push_read_the_connection_row" {
  command = plan

  variables {
    grant_connection_lookup = true
    create_authorizer_role  = false
  }

  assert {
    condition = alltrue([for f in ["push", "poll"] : contains(jsondecode(aws_iam_role_policy.this[f].policy).Statement, {
      Sid = "LookUpConnectionUser", Effect = "Allow", Action = ["dynamodb:GetItem"], Resource = [var.connections_table_arn]
    })])
    error_message = "poll and push need GetItem on connections when there is no authorizer context"
  }

  assert {
    condition     = !contains([for s in jsondecode(aws_iam_role_policy.this["connect"].policy).Statement : s.Sid], "LookUpConnectionUser")
    error_message = "connect never reads connection rows"
  }
}

run "kms_keys_are_granted_only_through_their_service" {
  command = plan

  variables {
    jwt_secret_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/ssm-key"
    table_kms_key_arn      = "arn:aws:kms:eu-west-1:111122223333:key/table-key"
  }

  assert {
    condition = contains(jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement, {
      Sid       = "DecryptJwtSecret", Effect = "Allow", Action = ["kms:Decrypt"],
      Resource  = ["arn:aws:kms:eu-west-1:111122223333:key/ssm-key"],
      Condition = { StringEquals = { "kms:ViaService" = "ssm.eu-west-1.amazonaws.com" } }
    })
    error_message = "authorizer gets kms:Decrypt on the parameter key, through SSM only"
  }

  assert {
    condition = alltrue([for f in ["connect", "disconnect", "push", "poll"] : contains(
      [for s in jsondecode(aws_iam_role_policy.this[f].policy).Statement : s.Sid], "TableKey"
    )])
    error_message = "table-using roles need the table key"
  }

  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.this["push"].policy).Statement :
    s.Condition.StringEquals["kms:ViaService"] == "dynamodb.eu-west-1.amazonaws.com" if s.Sid == "TableKey"])
    error_message = "the table key may be used through DynamoDB only"
  }

  assert {
    condition     = !contains([for s in jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement : s.Sid], "TableKey")
    error_message = "the authorizer never touches the tables"
  }
}

run "jwks_mode_has_no_ssm_access" {
  command = plan

  variables {
    jwt_secret_parameter_arn = null
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement : s.Sid] == ["WriteOwnLogs"]
    error_message = "without an SSM parameter the authorizer only writes logs"
  }
}

run "switches" {
  command = plan

  variables {
    create_authorizer_role = false
    tracing_enabled        = true
  }

  assert {
    condition     = toset(keys(aws_iam_role.this)) == toset(["connect", "disconnect", "push", "poll"])
    error_message = "no authorizer role when authentication is disabled"
  }

  assert {
    condition     = alltrue([for a in aws_iam_role_policy_attachment.xray : a.policy_arn == "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]) && length(aws_iam_role_policy_attachment.xray) == 4
    error_message = "tracing attaches the X-Ray write policy to every role"
  }
}

run "create_false_creates_nothing" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_iam_role.this) == 0 && length(aws_iam_role_policy.this) == 0 && output.role_arns == {}
    error_message = "create = false must create no role"
  }
}

run "rejects_bad_name_prefix" {
  command = plan

  variables {
    name_prefix = "bad name!"
  }

  expect_failures = [var.name_prefix]
}

run "client_push_and_async_failure_grants" {
  command = plan

  variables {
    rate_limits_table_arn           = "arn:aws:dynamodb:eu-west-1:111122223333:table/t-rate-limits"
    client_push_policy_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:may-message"
    async_failure_queue_arn         = "arn:aws:sqs:eu-west-1:111122223333:t-push-failures"
  }

  assert {
    condition = [for st in jsondecode(aws_iam_role_policy.this["push"].policy).Statement : st if contains(["CountClientPushes", "AskClientPushPolicy", "SendFailedAsyncInvocations"], st.Sid)] == [
      { Sid = "CountClientPushes", Effect = "Allow", Action = ["dynamodb:UpdateItem"], Resource = [var.rate_limits_table_arn] },
      { Sid = "AskClientPushPolicy", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [var.client_push_policy_function_arn] },
      { Sid = "SendFailedAsyncInvocations", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [var.async_failure_queue_arn] },
    ]
    error_message = "push gets exactly the rate limit table, the policy function and the failure queue"
  }
}
