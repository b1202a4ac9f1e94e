output "connections_table_name" {
  description = "Name of the connections table (the CONNECTIONS_TABLE environment variable)."
  value       = try(aws_dynamodb_table.connections[0].name, null)
}

output "connections_table_arn" {
  description = "ARN of the connections table, for IAM policies."
  value       = try(aws_dynamodb_table.connections[0].arn, null)
}

output "connections_user_index_name" {
  description = "Name of the connections table's GSI keyed by userId (the CONNECTIONS_USER_INDEX environment variable)."
  value       = var.create ? local.user_index_name : null
}

output "connections_user_index_arn" {
  description = "ARN of the userId GSI, for IAM policies that Query it."
  value       = try("${aws_dynamodb_table.connections[0].arn}/index/${local.user_index_name}", null)
}

output "notifications_table_name" {
  description = "Name of the notifications table (the NOTIFICATIONS_TABLE environment variable)."
  value       = try(aws_dynamodb_table.notifications[0].name, null)
}

output "notifications_table_arn" {
  description = "ARN of the notifications table, for IAM policies."
  value       = try(aws_dynamodb_table.notifications[0].arn, null)
}

output "connections_expiry_index_name" {
  description = "Name of the connections table's GSI keyed by sweepShard and tokenExpiresAt (the CONNECTIONS_EXPIRY_INDEX environment variable)."
  value       = var.create ? local.expiry_index_name : null
}

output "connections_expiry_index_arn" {
  description = "ARN of the token-expiry GSI, for the sweeper's Query permission."
  value       = try("${aws_dynamodb_table.connections[0].arn}/index/${local.expiry_index_name}", null)
}

output "rate_limits_table_name" {
  description = "Name of the rate limit table (the RATE_LIMIT_TABLE environment variable), or null when not created."
  value       = try(aws_dynamodb_table.rate_limits[0].name, null)
}

output "rate_limits_table_arn" {
  description = "ARN of the rate limit table, for IAM policies."
  value       = try(aws_dynamodb_table.rate_limits[0].arn, null)
}

output "devices_table_name" {
  description = "Name of the device registry of mobile push (the DEVICES_TABLE environment variable), or null when not created."
  value       = try(aws_dynamodb_table.devices[0].name, null)
}

output "devices_table_arn" {
  description = "ARN of the device registry, for IAM policies."
  value       = try(aws_dynamodb_table.devices[0].arn, null)
}

output "devices_user_index_name" {
  description = "Name of the device registry's GSI keyed by userId (the DEVICES_USER_INDEX environment variable)."
  value       = length(aws_dynamodb_table.devices) > 0 ? local.devices_user_index_name : null
}

output "devices_user_index_arn" {
  description = "ARN of the device registry's userId GSI, for IAM policies that Query it."
  value       = try("${aws_dynamodb_table.devices[0].arn}/index/${local.devices_user_index_name}", null)
}
