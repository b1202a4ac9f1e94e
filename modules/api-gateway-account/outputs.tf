output "cloudwatch_role_arn" {
  description = "ARN of the role now set as this Region's API Gateway CloudWatch role (null when create is false)."
  value       = try(aws_api_gateway_account.this[0].cloudwatch_role_arn, null)
}

output "role_name" {
  description = "Name of the role."
  value       = try(aws_iam_role.this[0].name, null)
}
