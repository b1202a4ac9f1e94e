output "websocket_url" {
  description = "Connect here with ?token=<HS256 JWT>."
  value       = module.notifications.websocket_url
}

output "push_function_name" {
  description = "Name of the push function."
  value       = module.notifications.push_function_name
}

output "jwt_secret_parameter_name" {
  description = "Create this SSM SecureString parameter with your HS256 secret before clients connect."
  value       = module.notifications.jwt_secret_parameter_name
}
