# Topics (issue 12): the topics function's role, and what push, poll and me add to theirs.

variable "topics" {
  type        = bool
  description = "Topics are on: creates the topics role and lets push read subscribers and write topic history, poll and me check a subscription and read topic history."
  default     = false
}

variable "subscriptions_table_arn" {
  type        = string
  description = "ARN of the topic subscriptions table, or null."
  default     = null
}

variable "subscriptions_user_index_arn" {
  type        = string
  description = "ARN of the subscriptions table's userId GSI (a user's topics), or null."
  default     = null
}

variable "topic_history_table_arn" {
  type        = string
  description = "ARN of the topic history table, or null."
  default     = null
}

locals {
  # The membership check of a topic poll, and the history it then reads.
  read_topic_history = [
    {
      Sid      = "CheckTopicSubscription"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem"]
      Resource = [var.subscriptions_table_arn]
    },
    {
      Sid      = "ReadTopicHistory"
      Effect   = "Allow"
      Action   = ["dynamodb:Query"]
      Resource = [var.topic_history_table_arn]
    },
  ]

  # Added to the statements of each role (merged in main.tf's policies). The topics role
  # exists only when var.topics is set.
  topic_statements = {
    topics = concat(
      [
        {
          Sid    = "ManageSubscriptions"
          Effect = "Allow"
          # PutItem (conditional) subscribes, DeleteItem unsubscribes, GetItem reads one
          # subscription, Query lists a topic's subscribers.
          Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"]
          Resource = [var.subscriptions_table_arn]
        },
        {
          Sid      = "ListUserTopics"
          Effect   = "Allow"
          Action   = ["dynamodb:Query"]
          Resource = [var.subscriptions_user_index_arn]
        },
        # The ack or error frame of the subscribe/unsubscribe routes.
        local.manage_connections,
      ],
      local.connection_lookup,
      local.table_key,
    )
    push = var.topics ? [
      {
        Sid      = "ReadTopicSubscribers"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = [var.subscriptions_table_arn]
      },
      {
        Sid      = "StoreTopicNotification"
        Effect   = "Allow"
        Action   = ["dynamodb:PutItem"]
        Resource = [var.topic_history_table_arn]
      },
    ] : []
    poll = var.topics ? local.read_topic_history : []
    me   = var.topics ? local.read_topic_history : []
  }
}
