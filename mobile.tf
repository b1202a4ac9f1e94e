# Mobile push through Amazon SNS (issue 11; README "Mobile push"). One SNS platform application
# per platform: passed by ARN (credentials stay out of this state), or created here from a
# Secrets Manager secret (the credential is then in this state, marked sensitive).

locals {
  mobile_enabled = var.create && length(var.mobile_push.platform_applications) > 0

  mobile_from_secret = local.mobile_enabled ? {
    for p, app in var.mobile_push.platform_applications : p => app.secret_name if app.secret_name != null
  } : {}

  # platform => platform application ARN: the PLATFORM_APPLICATIONS environment variable.
  platform_application_arns = local.mobile_enabled ? {
    for p, app in var.mobile_push.platform_applications :
    p => app.arn != null ? app.arn : aws_sns_platform_application.this[p].arn
  } : {}

  mobile_environment = local.mobile_enabled ? {
    DEVICES_TABLE         = module.tables.devices_table_name
    DEVICES_USER_INDEX    = module.tables.devices_user_index_name
    PLATFORM_APPLICATIONS = jsonencode(local.platform_application_arns)
  } : {}
}

data "aws_secretsmanager_secret_version" "platform" {
  for_each = local.mobile_from_secret

  secret_id = each.value
}

resource "aws_sns_platform_application" "this" {
  for_each = local.mobile_from_secret

  name     = "${var.name_prefix}-${lower(each.key)}"
  platform = each.key
  # The credential is read at plan time and stored in this state (sensitive, yet in clear text).
  platform_credential      = sensitive(jsondecode(data.aws_secretsmanager_secret_version.platform[each.key].secret_string).platform_credential)
  platform_principal       = sensitive(try(jsondecode(data.aws_secretsmanager_secret_version.platform[each.key].secret_string).platform_principal, null))
  apple_platform_team_id   = try(jsondecode(data.aws_secretsmanager_secret_version.platform[each.key].secret_string).apple_platform_team_id, null)
  apple_platform_bundle_id = try(jsondecode(data.aws_secretsmanager_secret_version.platform[each.key].secret_string).apple_platform_bundle_id, null)

  # Delivery status logging (CloudWatch Logs, sns/REGION/ACCOUNT/app/PLATFORM/NAME).
  failure_feedback_role_arn    = var.mobile_push.failure_feedback_role_arn
  success_feedback_role_arn    = coalesce(var.mobile_push.success_feedback_role_arn, var.mobile_push.failure_feedback_role_arn, "-") == "-" ? null : coalesce(var.mobile_push.success_feedback_role_arn, var.mobile_push.failure_feedback_role_arn)
  success_feedback_sample_rate = var.mobile_push.failure_feedback_role_arn == null && var.mobile_push.success_feedback_role_arn == null ? null : var.mobile_push.success_sample_rate
}
