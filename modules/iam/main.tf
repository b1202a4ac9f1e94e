data "aws_partition" "current" {}

locals {
  functions = toset(concat(
    ["connect", "disconnect", "push", "poll"],
    var.create_authorizer_role ? ["authorizer"] : [],
  ))
  roles = var.create ? local.functions : toset([])

  manage_connections_arn = "${var.api_execution_arn}/${var.stage_name}/POST/@connections/*"

  manage_connections = {
    Sid      = "PostToConnections"
    Effect   = "Allow"
    Action   = ["execute-api:ManageConnections"]
    Resource = [local.manage_connections_arn]
  }

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

  function_statements = {
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
      [local.manage_connections],
      local.connection_lookup,
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

    authorizer = concat(
      var.jwt_secret_parameter_arn == null ? [] : [{
        Sid      = "ReadJwtSecret"
        Effect   = "Allow"
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
  }

  assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.${data.aws_partition.current.dns_suffix}" }
    }]
  }

  # The log group is created by Terraform (with retention), so no role may create groups.
  policies = {
    for name in local.roles : name => {
      Version = "2012-10-17"
      Statement = concat(local.function_statements[name], [{
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

  name                 = "${var.name_prefix}-${each.key}"
  description          = "Runs the ${each.key} function of ${var.name_prefix} (least privilege)."
  assume_role_policy   = jsonencode(local.assume_role_policy)
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
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
