data "aws_partition" "current" {}

# lambda.amazonaws.com almost everywhere, but not in every partition (e.g. China Regions).
data "aws_service_principal" "lambda" {
  service_name = "lambda"
  region       = var.region
}

locals {
  # refresh (verifies a new token) and sweeper (closes connections whose token expired) exist
  # only with authentication, like the authorizer.
  functions = toset(concat(
    ["connect", "disconnect", "push", "poll"],
    var.create_authorizer_role ? ["authorizer", "refresh", "sweeper"] : [],
    var.http_api_functions,
    var.mobile_push ? ["devices"] : [],
    var.topics ? ["topics"] : [],
    var.scheduling != null ? ["schedules"] : [],
    var.fanout ? ["fanout"] : [],
  ))
  roles = var.create ? local.functions : toset([])

  manage_connections_arn = "${var.api_execution_arn}/${var.stage_name}/POST/@connections/*"

  manage_connections = {
    Sid      = "PostToConnections"
    Effect   = "Allow"
    Action   = ["execute-api:ManageConnections"]
    Resource = [local.manage_connections_arn]
  }

  # DeleteConnection: revocation (push, the HTTP API's users) and the token-expiry sweeper.
  close_connections = {
    Sid      = "CloseConnections"
    Effect   = "Allow"
    Action   = ["execute-api:ManageConnections"]
    Resource = ["${var.api_execution_arn}/${var.stage_name}/DELETE/@connections/*"]
  }

  # The JWT secret, for the functions that verify tokens (authorizer at $connect, refresh).
  read_jwt_secret = concat(
    var.jwt_secret_parameter_arn == null ? [] : [{
      Sid    = "ReadJwtSecret"
      Effect = "Allow"
      # One call reads the current secret and the version labelled `previous` (rotation).
      Action   = ["ssm:GetParameters"]
      Resource = [var.jwt_secret_parameter_arn]
    }],
    var.jwt_secret_parameter_arn == null || var.jwt_secret_kms_key_arn == null ? [] : [{
      Sid      = "DecryptJwtSecret"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.jwt_secret_kms_key_arn]
      Condition = {
        StringEquals = { "kms:ViaService" = "ssm.${var.region}.${data.aws_partition.current.dns_suffix}" }
      }
    }],
  )

  # DynamoDB calls the key on the caller's behalf; ViaService keeps the grant unusable elsewhere.
  table_key = var.table_kms_key_arn == null ? [] : [{
    Sid      = "TableKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    Resource = [var.table_kms_key_arn]
    Condition = {
      StringEquals = { "kms:ViaService" = "dynamodb.${var.region}.${data.aws_partition.current.dns_suffix}" }
    }
  }]

  # Without an authorizer, poll/push learn the caller's userId from its connection row.
  connection_lookup = var.grant_connection_lookup ? [{
    Sid      = "LookUpConnectionUser"
    Effect   = "Allow"
    Action   = ["dynamodb:GetItem"]
    Resource = [var.connections_table_arn]
  }] : []

  # Mobile push. SNS defines no resource type for platform applications or endpoints in the
  # Service Authorization Reference (only topics), and a policy naming ARNs an action does not
  # support denies every call, so the SNS statements need "*" (docs/security.md says what limits
  # the exposure instead). The DynamoDB side is scoped as usual.
  mobile_push_statements = var.mobile_push ? [
    {
      Sid      = "FindUserDevices"
      Effect   = "Allow"
      Action   = ["dynamodb:Query"]
      Resource = [var.devices_user_index_arn]
    },
    {
      Sid      = "PruneDisabledDevices"
      Effect   = "Allow"
      Action   = ["dynamodb:DeleteItem"]
      Resource = [var.devices_table_arn]
    },
    {
      Sid      = "PublishToDeviceEndpoints"
      Effect   = "Allow"
      Action   = ["sns:Publish", "sns:DeleteEndpoint"]
      Resource = ["*"]
    },
  ] : []

  # Profiles and segments: users keeps a profile and its index items (wsnotify.profiles); push
  # resolves a segment through the index, checks the candidates' profiles and deletes index
  # items that contradict them (wsnotify.segments). No Scan anywhere.
  profile_statements = var.profiles_table_arn == null || var.segment_index_table_arn == null ? [] : [
    {
      Sid      = "KeepProfiles"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
      Resource = [var.profiles_table_arn]
    },
    {
      Sid      = "KeepSegmentIndex"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
      Resource = [var.segment_index_table_arn]
    },
  ]
  segment_statements = var.profiles_table_arn == null || var.segment_index_table_arn == null ? [] : [
    {
      Sid      = "ResolveSegments"
      Effect   = "Allow"
      Action   = ["dynamodb:Query", "dynamodb:DeleteItem"]
      Resource = [var.segment_index_table_arn]
    },
    {
      Sid      = "ReadSegmentProfiles"
      Effect   = "Allow"
      Action   = ["dynamodb:BatchGetItem"]
      Resource = [var.profiles_table_arn]
    },
  ]
  # Scheduled sends (issue 13): schedules in the deployment's group only; the Scheduler role is
  # the only role that may be passed, and only to Scheduler.
  pass_scheduler_role = var.scheduling == null ? [] : [{
    Sid      = "PassSchedulerRole"
    Effect   = "Allow"
    Action   = ["iam:PassRole"]
    Resource = [var.scheduling.scheduler_role_arn]
    Condition = {
      StringEquals = { "iam:PassedToService" = "scheduler.amazonaws.com" }
    }
  }]

  read_profile_timezones = try(var.scheduling.profiles_table_arn, null) == null ? [] : [{
    Sid      = "ReadProfileTimezones"
    Effect   = "Allow"
    Action   = ["dynamodb:BatchGetItem"]
    Resource = [var.scheduling.profiles_table_arn]
  }]

  # push creates schedules (and removes the parts of one it could not finish), records them,
  # and marks each fire in the schedules table. Profile zones: push reads them with the same
  # BatchGetItem that segments grant (ReadSegmentProfiles) when it has that statement; one grant,
  # so that removing it denies both (tests/e2e/test_segments.py).
  push_scheduling = concat(var.scheduling == null ? [] : [
    {
      Sid      = "CreateSchedulesInGroup"
      Effect   = "Allow"
      Action   = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"]
      Resource = [var.scheduling.schedule_arn_pattern]
    },
    {
      Sid      = "RecordSchedules"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      Resource = [var.scheduling.schedules_table_arn]
    },
  ], local.pass_scheduler_role, length(local.segment_statements) > 0 ? [] : local.read_profile_timezones)

  function_statements = {
    schedules = concat(var.scheduling == null ? [] : [
      {
        Sid      = "ManageSchedulesInGroup"
        Effect   = "Allow"
        Action   = ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"]
        Resource = [var.scheduling.schedule_arn_pattern]
      },
      {
        Sid      = "KeepScheduleRecords"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Scan"]
        Resource = [var.scheduling.schedules_table_arn]
      },
      {
        Sid      = "ListTargetSchedules"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = [var.scheduling.target_index_arn]
      },
    ], local.pass_scheduler_role, local.read_profile_timezones, local.table_key)

    devices = concat([
      {
        Sid      = "KeepDeviceRegistry"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
        Resource = [var.devices_table_arn]
      },
      {
        Sid      = "ListUserDevices"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = [var.devices_user_index_arn]
      },
      {
        Sid    = "ManageDeviceEndpoints"
        Effect = "Allow"
        Action = [
          "sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint",
        ]
        Resource = ["*"]
      },
    ], local.table_key)

    connect = concat([{
      Sid      = "RegisterConnection"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem"]
      Resource = [var.connections_table_arn]
    }], local.table_key)

    disconnect = concat([{
      Sid      = "ForgetConnection"
      Effect   = "Allow"
      Action   = ["dynamodb:DeleteItem"]
      Resource = [var.connections_table_arn]
    }], local.table_key)

    push = concat(
      [
        {
          Sid      = "FindUserConnections"
          Effect   = "Allow"
          Action   = ["dynamodb:Query"]
          Resource = [var.connections_user_index_arn]
        },
        {
          Sid      = "StoreNotification"
          Effect   = "Allow"
          Action   = ["dynamodb:PutItem"]
          Resource = [var.notifications_table_arn]
        },
        {
          Sid      = "PruneStaleConnections"
          Effect   = "Allow"
          Action   = ["dynamodb:DeleteItem"]
          Resource = [var.connections_table_arn]
        },
      ],
      var.enable_broadcast ? [{
        Sid      = "BroadcastScan"
        Effect   = "Allow"
        Action   = ["dynamodb:Scan"]
        Resource = [var.connections_table_arn]
      }] : [],
      var.rate_limits_table_arn == null ? [] : [{
        Sid      = "CountClientPushes"
        Effect   = "Allow"
        Action   = ["dynamodb:UpdateItem"]
        Resource = [var.rate_limits_table_arn]
      }],
      var.client_push_policy_function_arn == null ? [] : [{
        Sid      = "AskClientPushPolicy"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [var.client_push_policy_function_arn]
      }],
      var.async_failure_queue_arn == null ? [] : [{
        Sid      = "SendFailedAsyncInvocations"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [var.async_failure_queue_arn]
      }],
      var.async_failure_queue_arn == null || var.async_failure_queue_kms_key_arn == null ? [] : [{
        Sid      = "EncryptFailedAsyncInvocations"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = [var.async_failure_queue_kms_key_arn]
      }],
      [local.manage_connections, local.close_connections],
      local.mobile_push_statements,
      local.segment_statements,
      local.connection_lookup,
      local.push_scheduling,
      local.table_key,
      local.fanout_push_statements,
    )

    fanout = local.fanout_worker_statements

    refresh = concat(
      [
        {
          Sid      = "ExtendTokenExpiry"
          Effect   = "Allow"
          Action   = ["dynamodb:UpdateItem"]
          Resource = [var.connections_table_arn]
        },
        local.manage_connections,
      ],
      local.read_jwt_secret,
      local.table_key,
    )

    sweeper = concat(
      [
        {
          Sid      = "FindExpiredConnections"
          Effect   = "Allow"
          Action   = ["dynamodb:Query"]
          Resource = [var.connections_expiry_index_arn]
        },
        {
          Sid      = "ForgetClosedConnections"
          Effect   = "Allow"
          Action   = ["dynamodb:DeleteItem"]
          Resource = [var.connections_table_arn]
        },
        local.close_connections,
      ],
      local.table_key,
    )

    poll = concat([
      {
        Sid      = "ReadHistory"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = [var.notifications_table_arn]
      },
      local.manage_connections,
    ], local.connection_lookup, local.table_key)

    # HTTP API: presence reads the index and the rows' connectedAt; revocation closes
    # connections (DELETE @connections) and forgets their rows.
    users = concat([
      {
        Sid      = "FindUserConnections"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = [var.connections_user_index_arn]
      },
      {
        Sid      = "ReadConnectionTimes"
        Effect   = "Allow"
        Action   = ["dynamodb:BatchGetItem"]
        Resource = [var.connections_table_arn]
      },
      {
        Sid      = "ForgetRevokedConnections"
        Effect   = "Allow"
        Action   = ["dynamodb:DeleteItem"]
        Resource = [var.connections_table_arn]
      },
      local.close_connections,
    ], local.profile_statements, local.table_key)

    me = concat([{
      Sid      = "ReadHistory"
      Effect   = "Allow"
      Action   = ["dynamodb:Query"]
      Resource = [var.notifications_table_arn]
    }], local.table_key)

    authorizer = local.read_jwt_secret
    topics     = [] # topics.tf
  }

  assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = data.aws_service_principal.lambda.name }
    }]
  }

  # The log group is created by Terraform (with retention), so no role may create groups.
  policies = {
    for name in local.roles : name => {
      Version = "2012-10-17"
      Statement = concat(local.function_statements[name], lookup(local.topic_statements, name, []), [{
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${var.log_group_arns[name]}:*"]
      }])
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  # IAM role names are account-global: the Region lets the same stack live in a second Region.
  name                 = "${var.name_prefix}-${each.key}-${var.region}"
  description          = "Runs the ${each.key} function of ${var.name_prefix} (least privilege)."
  assume_role_policy   = jsonencode(local.assume_role_policy)
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags

  lifecycle {
    # A renamed role (v0.1 names had no Region) is created before the old one goes, so the
    # functions switch roles without a window of failed invocations.
    create_before_destroy = true

    precondition {
      condition     = length("${var.name_prefix}-${each.key}-${var.region}") <= 64
      error_message = "Role name ${var.name_prefix}-${each.key}-${var.region} exceeds IAM's 64 characters: shorten name_prefix."
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.roles

  name   = "${var.name_prefix}-${each.key}"
  role   = aws_iam_role.this[each.key].id
  policy = jsonencode(local.policies[each.key])
}

resource "aws_iam_role_policy_attachment" "xray" {
  for_each = var.tracing_enabled ? local.roles : toset([])

  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}
