output "websocket_url" {
  description = "URL clients connect to: wss://{api_id}.execute-api.{region}.amazonaws.com/{stage} (add ?token=<jwt> or offer the token as a subprotocol)."
  value       = module.websocket_api.websocket_url
}

output "connections_endpoint" {
  description = "The @connections management endpoint (https://...{stage}): endpoint_url for boto3's apigatewaymanagementapi client."
  value       = module.websocket_api.management_endpoint
}

output "websocket_api_id" {
  description = "ID of the WebSocket API."
  value       = module.websocket_api.api_id
}

output "websocket_api_execution_arn" {
  description = "Execution ARN of the WebSocket API; `<arn>/<stage>/POST/@connections/*` scopes execute-api:ManageConnections."
  value       = module.websocket_api.execution_arn
}

output "websocket_stage_name" {
  description = "Name of the WebSocket stage."
  value       = module.websocket_api.stage_name
}

output "push_function_arn" {
  description = "ARN of the push function: grant backends lambda:InvokeFunction on it and invoke it with the JSON request of docs/architecture.md."
  value       = try(aws_lambda_function.this["push"].arn, null)
}

output "push_function_name" {
  description = "Name of the push function (FunctionName for boto3 lambda.invoke)."
  value       = try(aws_lambda_function.this["push"].function_name, null)
}

output "function_arns" {
  description = "ARN of every function, keyed connect, disconnect, push, poll and (when authentication is on) authorizer."
  value       = { for f, fn in aws_lambda_function.this : f => fn.arn }
}

output "function_names" {
  description = "Name of every function, keyed like function_arns."
  value       = { for f, fn in aws_lambda_function.this : f => fn.function_name }
}

output "function_role_arns" {
  description = "IAM role ARN of every function, keyed like function_arns (attach extra policies here)."
  value       = module.iam.role_arns
}

output "log_group_names" {
  description = "CloudWatch log group of every function, keyed like function_arns."
  value       = { for f, group in aws_cloudwatch_log_group.function : f => group.name }
}

output "connections_table_name" {
  description = "Name of the connections table."
  value       = module.tables.connections_table_name
}

output "connections_table_arn" {
  description = "ARN of the connections table."
  value       = module.tables.connections_table_arn
}

output "notifications_table_name" {
  description = "Name of the notifications (history) table."
  value       = module.tables.notifications_table_name
}

output "notifications_table_arn" {
  description = "ARN of the notifications table."
  value       = module.tables.notifications_table_arn
}

output "jwt_secret_parameter_name" {
  description = "SSM parameter the authorizer reads the HS256 secret from (null unless auth.mode is hs256). Create it as a SecureString."
  value       = var.create && local.uses_ssm_secret ? local.jwt_secret_parameter_name : null
}

output "authorizer_layer_arn" {
  description = "ARN of the dependency layer the module built for the authorizer (null when auth is disabled or authorizer_layer_arns is used)."
  value       = try(aws_lambda_layer_version.authorizer[0].arn, null)
}

output "http_api_url" {
  description = "Base URL of the management HTTP API (append /v1/...), or null when create_http_api is false."
  value       = try(aws_apigatewayv2_api.http[0].api_endpoint, null)
}

output "http_api_id" {
  description = "ID of the management HTTP API, or null."
  value       = try(aws_apigatewayv2_api.http[0].id, null)
}

output "http_api_route_arns" {
  description = "execute-api:Invoke resource of every HTTP API route, keyed by route key (e.g. \"POST /v1/notifications\"): put them in the IAM policies of backends."
  value       = local.http_route_arns
}

output "devices_table_name" {
  description = "Name of the device registry of mobile push, or null when mobile push is off."
  value       = module.tables.devices_table_name
}

output "devices_function_name" {
  description = "Name of the devices function (direct invoke: {\"devices\": {\"action\": \"register\"|\"unregister\"|\"list\", ...}}), or null when mobile push is off."
  value       = try(aws_lambda_function.this["devices"].function_name, null)
}

output "platform_application_arns" {
  description = "SNS platform application ARN per platform (APNS, APNS_SANDBOX, GCM) used by mobile push; empty when off."
  value       = local.platform_application_arns
}

output "subscriptions_table_name" {
  description = "Name of the topic subscriptions table, or null when topics are off."
  value       = module.tables.subscriptions_table_name
}

output "topic_history_table_name" {
  description = "Name of the topic history table, or null when topics are off."
  value       = module.tables.topic_history_table_name
}

output "topics_function_name" {
  description = "Name of the topics function (direct invoke: {\"topics\": {\"action\": \"subscribe\"|\"unsubscribe\"|\"list\", \"topic\", ...}}), or null when topics are off."
  value       = try(aws_lambda_function.this["topics"].function_name, null)
}

output "profiles_table_name" {
  description = "Name of the user profiles table (attributes, timezone, locale per user)."
  value       = module.tables.profiles_table_name
}

output "segment_index_table_name" {
  description = "Name of the segment index table (one item per declared attribute value and user)."
  value       = module.tables.segment_index_table_name
}

output "users_function_name" {
  description = "Name of the users function (direct invoke: {\"profiles\": {\"action\": \"put\"|\"get\"|\"delete\", \"userId\": ...}})."
  value       = try(aws_lambda_function.this["users"].function_name, null)
}

output "schedules_function_name" {
  description = "Name of the schedules function (direct invoke: {\"schedules\": {\"action\": \"list\"|\"get\"|\"update\"|\"cancel\", ...}}), or null when scheduling is off."
  value       = try(aws_lambda_function.this["schedules"].function_name, null)
}

output "schedules_table_name" {
  description = "Name of the schedules table (one item per schedule id), or null when scheduling is off."
  value       = module.tables.schedules_table_name
}

output "schedule_group_name" {
  description = "EventBridge Scheduler schedule group holding the deployment's schedules, or null when scheduling is off."
  value       = module.scheduler.group_name
}

output "scheduler_role_arn" {
  description = "Role EventBridge Scheduler assumes to invoke the push function (and nothing else), or null."
  value       = module.scheduler.role_arn
}

output "schedule_dlq_url" {
  description = "URL of the encrypted SQS dead-letter queue of schedule invocations that failed after the retry policy, or null."
  value       = module.scheduler.dlq_url
}

output "jobs_table_name" {
  description = "Name of the fan-out jobs table (null when fanout.enabled is false)."
  value       = module.tables.jobs_table_name
}

output "fanout_queue_url" {
  description = "URL of the shard queue of fan-out jobs (null when fanout.enabled is false)."
  value       = module.fanout.queue_url
}

output "fanout_dead_letter_queue_url" {
  description = "URL of the dead-letter queue of shards that failed fanout.max_receive_count times."
  value       = module.fanout.dead_letter_queue_url
}

output "fanout_event_source_mapping_uuid" {
  description = "UUID of the shard queue's event source mapping (pause or resume the workers with UpdateEventSourceMapping)."
  value       = module.fanout.event_source_mapping_uuid
}
