# Topics and subscriptions (issue 12; README "Topics", docs/architecture.md). The topics
# function serves subscribe/unsubscribe (WebSocket), /v1/topics/* (IAM), /v1/me/subscriptions*
# (JWT) and direct invoke; push reaches a topic's subscribers; poll and me read topic history.

locals {
  topics_enabled = var.create && var.topics.enabled

  # Key "" is the default namespace (topics without a "namespace:" prefix).
  topic_namespaces = merge({ "" = var.topics.default_namespace }, var.topics.namespaces)

  # push: subscribers and the topic's history; poll and me: membership and topic history.
  topics_push_environment = local.topics_enabled ? {
    SUBSCRIPTIONS_TABLE = module.tables.subscriptions_table_name
    TOPIC_HISTORY_TABLE = module.tables.topic_history_table_name
    TOPIC_NAMESPACES    = jsonencode(local.topic_namespaces)
  } : {}

  # The topics function reads the claim of HTTP JWT requests (jwks mode) itself.
  topics_environment = merge(local.topics_push_environment, local.topics_enabled ? {
    SUBSCRIPTIONS_USER_INDEX = module.tables.subscriptions_user_index_name
    TOPICS_CLAIM             = var.topics.claim
  } : {})

  # The authorizer copies the claim's patterns into its context (WebSocket and hs256 HTTP).
  topics_claim_environment = local.topics_enabled ? { TOPICS_CLAIM = var.topics.claim } : {}

  # /v1/me routes that write (PUT, DELETE) exist with mobile push or topics: CORS allows them.
  http_me_writes = (local.mobile_enabled || local.topics_enabled) && local.auth_enabled
}
