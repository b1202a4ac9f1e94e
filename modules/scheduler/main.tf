# EventBridge Scheduler underneath scheduled sends (issue 13): the deployment's schedule group,
# the role Scheduler assumes to invoke the push function (and nothing else), and the encrypted
# dead-letter queue of invocations that still fail after the retry policy. The schedules
# themselves are created at run time by push (one per scheduled send or recipient time zone).

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

data "aws_service_principal" "scheduler" {
  service_name = "scheduler"
  region       = var.region
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  # Built from names, not read from the resources: push's policy and environment need them, a
  # string keeps the plan free of cycles, and the values are known at plan time.
  group_arn            = "arn:${data.aws_partition.current.partition}:scheduler:${var.region}:${local.account_id}:schedule-group/${var.name_prefix}"
  schedule_arn_pattern = "arn:${data.aws_partition.current.partition}:scheduler:${var.region}:${local.account_id}:schedule/${var.name_prefix}/*"
  role_name            = "${var.name_prefix}-scheduler-${var.region}"
  role_arn             = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:role/${local.role_name}"
  dlq_name             = "${var.name_prefix}-schedule-dlq"
  dlq_arn              = "arn:${data.aws_partition.current.partition}:sqs:${var.region}:${local.account_id}:${local.dlq_name}"

  # Confused-deputy protection (Scheduler user guide): only this account's schedules in this
  # group may assume the role. SourceArn is the group's ARN, not a schedule's.
  assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = data.aws_service_principal.scheduler.name }
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnEquals    = { "aws:SourceArn" = local.group_arn }
      }
    }]
  }

  role_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "InvokePushOnly"
          Effect   = "Allow"
          Action   = ["lambda:InvokeFunction"]
          Resource = [var.target_function_arn]
        },
        {
          Sid      = "DeadLetterFailedInvocations"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [local.dlq_arn]
        },
      ],
      var.dlq_kms_key_arn == null ? [] : [{
        Sid      = "EncryptDeadLetters"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = [var.dlq_kms_key_arn]
      }],
    )
  }
}

resource "aws_scheduler_schedule_group" "this" {
  count = var.create ? 1 : 0

  name = var.name_prefix
  tags = var.tags
}

# Invocations Scheduler could not make after its retries (throttling, a missing or forbidden
# target). Encrypted at rest: SQS-managed keys unless a customer key is given.
resource "aws_sqs_queue" "dlq" {
  count = var.create ? 1 : 0

  name                              = local.dlq_name
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.dlq_kms_key_arn == null ? true : null
  kms_master_key_id                 = var.dlq_kms_key_arn
  kms_data_key_reuse_period_seconds = var.dlq_kms_key_arn == null ? null : 300
  tags                              = var.tags
}

resource "aws_iam_role" "this" {
  count = var.create ? 1 : 0

  name                 = local.role_name
  description          = "Assumed by EventBridge Scheduler to invoke the ${var.name_prefix} push function (only)."
  assume_role_policy   = jsonencode(local.assume_role_policy)
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = length(local.role_name) <= 64
      error_message = "Role name ${local.role_name} exceeds IAM's 64 characters: shorten name_prefix."
    }
  }
}

resource "aws_iam_role_policy" "this" {
  count = var.create ? 1 : 0

  name   = "${var.name_prefix}-scheduler"
  role   = aws_iam_role.this[0].id
  policy = jsonencode(local.role_policy)
}
