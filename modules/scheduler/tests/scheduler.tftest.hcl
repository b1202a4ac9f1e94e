# The role Scheduler assumes: trusted by Scheduler for this account and group only, allowed to
# invoke the push function only; the DLQ is encrypted.
mock_provider "aws" {
  override_during = plan

  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_service_principal" {
    defaults = { name = "scheduler.amazonaws.com" }
  }
}

override_resource {
  target          = aws_sqs_queue.dlq[0]
  override_during = plan
  values          = { arn = "arn:aws:sqs:eu-west-1:111122223333:ws-notify-schedule-dlq" }
}

variables {
  name_prefix         = "ws-notify"
  region              = "eu-west-1"
  target_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:ws-notify-push"
}

run "role_invokes_only_push" {
  command = plan

  assert {
    condition     = aws_scheduler_schedule_group.this[0].name == "ws-notify"
    error_message = "The schedule group is named after the deployment."
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this[0].policy).Statement == [
      {
        Sid      = "InvokePushOnly"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = ["arn:aws:lambda:eu-west-1:111122223333:function:ws-notify-push"]
      },
      {
        Sid      = "DeadLetterFailedInvocations"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = ["arn:aws:sqs:eu-west-1:111122223333:ws-notify-schedule-dlq"]
      },
    ]
    error_message = "The Scheduler role may invoke the push function and write its DLQ, nothing else."
  }

  assert {
    condition = jsondecode(aws_iam_role.this[0].assume_role_policy).Statement[0] == {
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "scheduler.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = "111122223333" }
        ArnEquals    = { "aws:SourceArn" = "arn:aws:scheduler:eu-west-1:111122223333:schedule-group/ws-notify" }
      }
    }
    error_message = "Only this account's schedules of this group may assume the role (confused deputy)."
  }

  assert {
    condition     = aws_sqs_queue.dlq[0].sqs_managed_sse_enabled == true && aws_sqs_queue.dlq[0].kms_master_key_id == null
    error_message = "The DLQ is encrypted with SQS-managed keys by default."
  }

  assert {
    condition     = output.schedule_arn_pattern == "arn:aws:scheduler:eu-west-1:111122223333:schedule/ws-notify/*"
    error_message = "The schedule ARN pattern names the group."
  }
}

run "customer_key" {
  command = plan

  variables {
    dlq_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/abc"
  }

  assert {
    condition     = aws_sqs_queue.dlq[0].kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/abc" && aws_sqs_queue.dlq[0].sqs_managed_sse_enabled != true
    error_message = "A customer key replaces SQS-managed encryption."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this[0].policy).Statement[2].Resource == ["arn:aws:kms:eu-west-1:111122223333:key/abc"]
    error_message = "The role may use the DLQ key (only it)."
  }
}

run "nothing_when_off" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_iam_role.this) == 0 && length(aws_sqs_queue.dlq) == 0 && length(aws_scheduler_schedule_group.this) == 0
    error_message = "create = false creates nothing."
  }
}

run "group_name_is_validated" {
  command = plan

  variables {
    name_prefix = "bad name"
  }

  expect_failures = [var.name_prefix]
}
