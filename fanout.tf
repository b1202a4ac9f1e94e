# Sharded fan-out jobs (docs/architecture.md, "Fan-out jobs"): the jobs table (modules/tables),
# the shard queue, its dead-letter queue and the event source mapping (modules/fanout), and the
# settings of push (which enqueues) and fanout (which delivers).

locals {
  fanout_enabled = var.create && var.fanout.enabled

  # push: where jobs are recorded and shards are sent; audiences over SHARD_SIZE become jobs.
  fanout_push_environment = var.fanout.enabled ? {
    JOBS_TABLE       = module.tables.jobs_table_name
    FANOUT_QUEUE_URL = module.fanout.queue_url
    SHARD_SIZE       = tostring(var.fanout.shard_size)
  } : {}

  fanout_environment = {
    CONNECTIONS_TABLE      = module.tables.connections_table_name
    CONNECTIONS_USER_INDEX = module.tables.connections_user_index_name
    JOBS_TABLE             = module.tables.jobs_table_name
    CONNECTIONS_ENDPOINT   = module.websocket_api.management_endpoint
    SEND_CONCURRENCY       = tostring(var.push_send_concurrency)
    MAX_RECEIVE_COUNT      = tostring(var.fanout.max_receive_count)
    LOG_LEVEL              = var.log_level
  }
}

module "fanout" {
  source = "./modules/fanout"

  create      = local.fanout_enabled
  name_prefix = var.name_prefix
  # Only the mapping reads the function: the queues (whose URL push's environment holds) do not
  # wait for the functions, so there is no cycle.
  function_arn               = local.fanout_enabled ? aws_lambda_function.this["fanout"].arn : "-"
  worker_timeout             = var.fanout.timeout
  worker_policy_ready        = try(module.iam.policy_documents["fanout"], "")
  visibility_timeout_seconds = var.fanout.visibility_timeout_seconds
  max_receive_count          = var.fanout.max_receive_count
  batch_size                 = var.fanout.batch_size
  max_concurrency            = var.fanout.max_concurrency
  kms_key_arn                = var.fanout.queue_kms_key_arn
  tags                       = var.tags
}
