# Sharded fan-out jobs: push enqueues shards and writes the job header; the fanout worker
# receives shards (the event source mapping polls with the worker's role), records them and
# delivers (docs/architecture.md, "Fan-out jobs").

variable "fanout" {
  type        = bool
  description = "Sharded fan-out jobs are on: creates the fanout role and lets push enqueue shards and track jobs."
  default     = false
}

variable "jobs_table_arn" {
  type        = string
  description = "ARN of the fan-out jobs table, or null."
  default     = null
}

variable "fanout_queue_arn" {
  type        = string
  description = "ARN of the shard queue, or null."
  default     = null
}

variable "fanout_queue_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key of the shard queue, or null (SQS-managed encryption)."
  default     = null
}

locals {
  # SQS calls KMS on the caller's behalf for a customer key; ViaService keeps the grant there.
  fanout_queue_key = var.fanout_queue_kms_key_arn == null ? [] : [{
    Sid      = "ShardQueueKey"
    Effect   = "Allow"
    Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
    Resource = [var.fanout_queue_kms_key_arn]
    Condition = {
      StringEquals = { "kms:ViaService" = "sqs.${var.region}.${data.aws_partition.current.dns_suffix}" }
    }
  }]

  fanout_push_statements = concat(var.fanout ? [
    {
      # SendMessageBatch is authorized as sqs:SendMessage.
      Sid      = "EnqueueShards"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [var.fanout_queue_arn]
    },
    {
      Sid      = "TrackJobs"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
      Resource = [var.jobs_table_arn]
    },
  ] : [], var.fanout ? local.fanout_queue_key : [])

  fanout_worker_statements = concat(
    [
      {
        # What the event source mapping needs (it polls with this role).
        Sid      = "ReceiveShards"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = [var.fanout_queue_arn]
      },
      {
        Sid      = "RecordShards"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"]
        Resource = [var.jobs_table_arn]
      },
      {
        Sid      = "FindUserConnections"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = [var.connections_user_index_arn]
      },
      {
        Sid      = "PruneStaleConnections"
        Effect   = "Allow"
        Action   = ["dynamodb:DeleteItem"]
        Resource = [var.connections_table_arn]
      },
      local.manage_connections,
    ],
    var.enable_broadcast ? [{
      Sid      = "BroadcastScan"
      Effect   = "Allow"
      Action   = ["dynamodb:Scan"]
      Resource = [var.connections_table_arn]
    }] : [],
    # Receiving from a queue under a customer key needs kms:Decrypt only.
    var.fanout_queue_kms_key_arn == null ? [] : [{
      Sid      = "ShardQueueKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.fanout_queue_kms_key_arn]
    }],
    local.table_key,
  )
}
