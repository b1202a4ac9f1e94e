output "role_arns" {
  description = "Role ARN per function name; pass each to the matching aws_lambda_function's role."
  value       = { for name, role in aws_iam_role.this : name => role.arn }
}

output "role_names" {
  description = "Role name per function name, for attaching extra policies (for example VPC access)."
  value       = { for name, role in aws_iam_role.this : name => role.name }
}

output "policy_documents" {
  description = "Inline policy document (JSON) per function name, as attached; useful for review and tests."
  value       = { for name, policy in aws_iam_role_policy.this : name => policy.policy }
}
