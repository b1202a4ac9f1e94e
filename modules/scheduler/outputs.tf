output "group_name" {
  description = "Name of the schedule group (the SCHEDULE_GROUP environment variable), or null."
  value       = try(aws_scheduler_schedule_group.this[0].name, null)
}

output "group_arn" {
  description = "ARN of the schedule group."
  value       = var.create ? local.group_arn : null
}

output "schedule_arn_pattern" {
  description = "ARN pattern of the group's schedules (schedule/<group>/*), for the policies of the functions that manage them."
  value       = var.create ? local.schedule_arn_pattern : null
}

output "role_arn" {
  description = "ARN of the role Scheduler assumes (the SCHEDULER_ROLE_ARN environment variable), or null."
  value       = var.create ? local.role_arn : null
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue of failed schedule invocations (SCHEDULE_DLQ_ARN), or null."
  value       = var.create ? local.dlq_arn : null
}

output "dlq_url" {
  description = "URL of the dead-letter queue of failed schedule invocations, or null."
  value       = try(aws_sqs_queue.dlq[0].url, null)
}

output "assume_role_policy" {
  description = "Trust policy of the role (JSON), for review and tests."
  value       = jsonencode(local.assume_role_policy)
}

output "role_policy" {
  description = "Inline policy of the role (JSON), as attached; for review and tests."
  value       = try(aws_iam_role_policy.this[0].policy, null)
}
