# Scheduled sends on EventBridge Scheduler (issue 13; README "Scheduled notifications"). push
# creates one-time or cron schedules in the deployment's group (modules/scheduler) whose target
# is push itself; the schedules function lists, changes and cancels them (HTTP routes in http.tf).

locals {
  scheduling_enabled = var.create && var.scheduling.enabled

  # push's ARN as a string built from its name: the Scheduler role's policy and push's own
  # environment need it, and a reference to the function would be a cycle.
  push_function_arn = join(":", [
    "arn", data.aws_partition.current.partition, "lambda", data.aws_region.current.name,
    data.aws_caller_identity.current.account_id, "function", "${var.name_prefix}-push",
  ])

  # Known at plan time (the table's name is fixed by modules/tables/schedules.tf).
  schedules_table_arn = join(":", [
    "arn", data.aws_partition.current.partition, "dynamodb", data.aws_region.current.name,
    data.aws_caller_identity.current.account_id, "table/${var.name_prefix}-schedules",
  ])

  # localTime reads each recipient's zone from the profiles (modules/tables/profiles.tf).
  scheduling_profiles_table_name = module.tables.profiles_table_name
  scheduling_profiles_table_arn  = module.tables.profiles_table_arn

  scheduling_environment = local.scheduling_enabled ? {
    SCHEDULES_TABLE                = module.tables.schedules_table_name
    SCHEDULES_TARGET_INDEX         = module.tables.schedules_target_index_name
    SCHEDULE_GROUP                 = module.scheduler.group_name
    SCHEDULER_ROLE_ARN             = module.scheduler.role_arn
    SCHEDULE_TARGET_ARN            = local.push_function_arn
    SCHEDULE_DLQ_ARN               = module.scheduler.dlq_arn
    SCHEDULE_RETRY_ATTEMPTS        = tostring(var.scheduling.retry_attempts)
    SCHEDULE_MAX_EVENT_AGE_SECONDS = tostring(var.scheduling.maximum_event_age_seconds)
    DEFAULT_TIMEZONE               = var.scheduling.default_timezone
    PROFILES_TABLE                 = local.scheduling_profiles_table_name
  } : {}

  schedules_function_environment = merge(local.log_level, local.scheduling_environment)

  iam_scheduling = local.scheduling_enabled ? {
    schedules_table_arn  = local.schedules_table_arn
    target_index_arn     = "${local.schedules_table_arn}/index/target-index"
    schedule_arn_pattern = module.scheduler.schedule_arn_pattern
    scheduler_role_arn   = module.scheduler.role_arn
    profiles_table_arn   = local.scheduling_profiles_table_arn
  } : null
}

module "scheduler" {
  source = "./modules/scheduler"

  create                   = local.scheduling_enabled
  name_prefix              = var.name_prefix
  region                   = data.aws_region.current.name
  target_function_arn      = local.push_function_arn
  dlq_kms_key_arn          = var.scheduling.dlq_kms_key_arn
  permissions_boundary_arn = var.permissions_boundary_arn
  tags                     = var.tags
}
