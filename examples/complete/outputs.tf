output "websocket_url" {
  description = "Connect here with ?token=<HS256 JWT whose sub is the user id>."
  value       = module.notifications.websocket_url
}

output "push_function_arn" {
  description = "Invoke this function (lambda:InvokeFunction) to push a notification."
  value       = module.notifications.push_function_arn
}

output "push_function_name" {
  description = "Name of the push function, for `aws lambda invoke` and boto3."
  value       = module.notifications.push_function_name
}

output "connections_endpoint" {
  description = "The @connections management endpoint of the stage."
  value       = module.notifications.connections_endpoint
}

output "http_api_url" {
  description = "Base URL of the management HTTP API (append /v1/...)."
  value       = module.notifications.http_api_url
}

output "http_api_route_arns" {
  description = "execute-api:Invoke resources of the HTTP API routes, for backend IAM policies."
  value       = module.notifications.http_api_route_arns
}

output "jwt_secret_parameter_name" {
  description = "SSM SecureString holding the HS256 secret (read it with --with-decryption to sign test tokens)."
  value       = aws_ssm_parameter.jwt_secret.name
}

output "function_names" {
  description = "Every function name, keyed by role."
  value       = module.notifications.function_names
}

output "connections_table_name" {
  description = "Connections table."
  value       = module.notifications.connections_table_name
}

output "notifications_table_name" {
  description = "Notification history table."
  value       = module.notifications.notifications_table_name
}

output "region" {
  description = "Region of the deployment."
  value       = var.region
}

output "devices_function_name" {
  description = "The devices function (mobile push registry; direct invoke {\"devices\": {...}}), or null without mobile push."
  value       = module.notifications.devices_function_name
}

output "devices_table_name" {
  description = "The device registry table, or null without mobile push."
  value       = module.notifications.devices_table_name
}

output "schedules_function_name" {
  description = "The schedules function (direct invoke {\"schedules\": {\"action\": ...}}), or null when scheduling is off."
  value       = module.notifications.schedules_function_name
}

output "schedule_group_name" {
  description = "EventBridge Scheduler group of the deployment's scheduled sends."
  value       = module.notifications.schedule_group_name
}

output "scheduler_role_arn" {
  description = "Role EventBridge Scheduler assumes to invoke push."
  value       = module.notifications.scheduler_role_arn
}

output "schedule_dlq_url" {
  description = "Dead-letter queue of schedule invocations that failed after the retry policy."
  value       = module.notifications.schedule_dlq_url
}

output "jobs_table_name" {
  description = "Fan-out jobs table (progress of sharded pushes)."
  value       = module.notifications.jobs_table_name
}

output "fanout_queue_url" {
  description = "Shard queue of fan-out jobs."
  value       = module.notifications.fanout_queue_url
}

output "fanout_dead_letter_queue_url" {
  description = "Dead-letter queue of shards that kept failing."
  value       = module.notifications.fanout_dead_letter_queue_url
}

output "fanout_event_source_mapping_uuid" {
  description = "Event source mapping of the shard queue (pause or resume the workers)."
  value       = module.notifications.fanout_event_source_mapping_uuid
}
