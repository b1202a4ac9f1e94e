output "api_id" {
  description = "ID of the WebSocket API."
  value       = try(aws_apigatewayv2_api.this[0].id, null)
}

output "api_endpoint" {
  description = "Endpoint of the API without stage (wss://{api_id}.execute-api.{region}.amazonaws.com)."
  value       = try(aws_apigatewayv2_api.this[0].api_endpoint, null)
}

output "execution_arn" {
  description = "Execution ARN of the API; append `/<stage>/POST/@connections/*` for execute-api:ManageConnections."
  value       = try(aws_apigatewayv2_api.this[0].execution_arn, null)
}

output "stage_name" {
  description = "Name of the stage."
  value       = var.create ? var.stage_name : null
}

output "stage_arn" {
  description = "ARN of the stage."
  value       = try(aws_apigatewayv2_stage.this[0].arn, null)
}

output "websocket_url" {
  description = "URL clients connect to (wss://{api_id}.execute-api.{region}.amazonaws.com/{stage})."
  value       = try(aws_apigatewayv2_stage.this[0].invoke_url, null)
}

output "management_endpoint" {
  description = "The @connections management endpoint (https://{api_id}.execute-api.{region}.amazonaws.com/{stage}); pass it as endpoint_url of boto3's apigatewaymanagementapi client."
  value       = try("${replace(aws_apigatewayv2_api.this[0].api_endpoint, "wss://", "https://")}/${var.stage_name}", null)
}

output "authorizer_id" {
  description = "ID of the $connect REQUEST authorizer, or null when authentication is disabled."
  value       = try(aws_apigatewayv2_authorizer.this[0].id, null)
}

output "route_ids" {
  description = "Route ID per route key."
  value       = merge({ for k, r in aws_apigatewayv2_route.lambda : k => r.id }, { for r in concat(aws_apigatewayv2_route.default, values(aws_apigatewayv2_route.optional)) : r.route_key => r.id })
}

output "access_log_group_name" {
  description = "CloudWatch log group of the stage's JSON access logs (null unless enable_access_logs)."
  value       = try(aws_cloudwatch_log_group.access[0].name, null)
}

output "access_log_group_arn" {
  description = "ARN of the access log group."
  value       = try(aws_cloudwatch_log_group.access[0].arn, null)
}

output "execution_log_group_name" {
  description = "CloudWatch log group of API Gateway's execution logs (null while logging_level is OFF)."
  value       = try(aws_cloudwatch_log_group.execution[0].name, null)
}

output "routing_hash" {
  description = "Hash of the routing inputs (routes, targets, integrations, authorizer, $default reply); a new deployment is made exactly when it changes."
  value       = try(aws_apigatewayv2_deployment.this[0].triggers.redeployment, null)
}
