# ---------------------------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------------------------

variable "create" {
  type        = bool
  description = "Create the whole stack. False creates nothing (useful to switch a deployment off per environment)."
  default     = true
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (functions `<prefix>-push`, tables `<prefix>-connections`, roles, API)."
  default     = "ws-notify"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,37}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and hold 1-38 letters, digits or '-' (it prefixes Lambda, IAM and DynamoDB names)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource that supports tags."
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------

variable "auth" {
  type = object({
    mode                      = optional(string, "hs256")
    jwt_secret_parameter_name = optional(string)
    jwt_secret_kms_key_arn    = optional(string)
    jwks_url                  = optional(string)
    issuer                    = optional(string)
    audience                  = optional(string)
    token_use                 = optional(string)
    algorithms                = optional(list(string))
    leeway_seconds            = optional(number, 30)
    cache_seconds             = optional(number, 300)
    identity_source           = optional(string, "either")
    # Item 5 of docs/security.md: "disabled" lets anyone claim any user id.
    insecure_allow_any_user_id = optional(bool, false)
  })
  description = <<-EOT
    JWT authentication at $connect.
    - mode: "hs256" (default; shared secret in an SSM SecureString parameter), "jwks" (RS256/ES256 via a JWKS URL
      such as Auth0 or Cognito) or "disabled" (anyone may connect and claim to be any user: for demos only, never in
      production; it also requires insecure_allow_any_user_id = true, or the plan fails).
    - jwt_secret_parameter_name: SSM parameter NAME holding the HS256 secret (default "/<name_prefix>/jwt-secret").
      The module never reads or creates it; create it as a SecureString. Until it exists, every connect gets 401.
    - jwt_secret_kms_key_arn: customer-managed KMS key of that parameter, if it is not the aws/ssm key.
    - jwks_url (https), issuer (iss), audience (aud), algorithms (allow-list; "none" is refused),
      token_use (Cognito: "access" or "id"; the token's token_use claim must equal it when set).
      In jwks mode issuer and audience are required: a shared key set (Google, Entra "common", one Auth0
      tenant for several apps) also signs tokens issued to other applications.
      leeway_seconds (clock skew, 0-600), cache_seconds (secret/JWKS cache, 1-86400; rotation waits this long).
    - identity_source: "query" (?token=), "header" (Sec-WebSocket-Protocol) or "either" (API Gateway calls the
      authorizer without pre-checks and the function looks in both places).
  EOT
  default     = {}

  validation {
    condition     = contains(["hs256", "jwks", "disabled"], var.auth.mode)
    error_message = "auth.mode must be hs256, jwks or disabled."
  }

  validation {
    condition     = var.auth.mode != "jwks" || can(regex("^https://[^\\s]+$", coalesce(var.auth.jwks_url, "-")))
    error_message = "auth.jwks_url must be an https:// URL when auth.mode is jwks."
  }

  validation {
    condition     = var.auth.mode != "disabled" || var.auth.insecure_allow_any_user_id
    error_message = "auth.mode = \"disabled\" lets anyone connect as any user and read their history: set auth.insecure_allow_any_user_id = true to confirm (never in production)."
  }

  validation {
    condition     = var.auth.mode != "jwks" || (try(length(var.auth.issuer), 0) > 0 && try(length(var.auth.audience), 0) > 0)
    error_message = "auth.issuer and auth.audience are required when auth.mode is jwks: without them the authorizer would accept tokens the identity provider issued to other applications."
  }

  validation {
    condition     = var.auth.token_use == null || contains(["access", "id"], coalesce(var.auth.token_use, "-"))
    error_message = "auth.token_use must be access or id (Cognito's token_use claim)."
  }

  validation {
    condition     = var.auth.jwt_secret_parameter_name == null || can(regex("^/?[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$", coalesce(var.auth.jwt_secret_parameter_name, "-")))
    error_message = "auth.jwt_secret_parameter_name must be an SSM parameter name such as /my-app/jwt-secret (not an ARN)."
  }

  # The authorizer refuses every token when the list leaves the mode's family, so fail at plan.
  validation {
    condition = var.auth.algorithms == null || (length(coalesce(var.auth.algorithms, [])) > 0 && alltrue([
      for a in coalesce(var.auth.algorithms, []) : contains(
        var.auth.mode == "jwks" ? ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"] : ["HS256", "HS384", "HS512"], a
      )
    ]))
    error_message = "auth.algorithms must be non-empty and hold HS256/HS384/HS512 for hs256, or RS*/PS*/ES* (256/384/512) for jwks; \"none\" is never allowed."
  }

  validation {
    condition     = var.auth.leeway_seconds >= 0 && var.auth.leeway_seconds <= 600 && var.auth.cache_seconds >= 1 && var.auth.cache_seconds <= 86400
    error_message = "auth.leeway_seconds must be 0-600 and auth.cache_seconds 1-86400."
  }

  validation {
    condition     = contains(["query", "header", "either"], var.auth.identity_source)
    error_message = "auth.identity_source must be query, header or either."
  }

  validation {
    condition     = var.auth.jwt_secret_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.auth.jwt_secret_kms_key_arn, "-")))
    error_message = "auth.jwt_secret_kms_key_arn must be a KMS key ARN."
  }
}

variable "authorizer_layer_arns" {
  type        = list(string)
  description = <<-EOT
    Escape hatch for air-gapped machines: Lambda layer ARN(s) that provide PyJWT and cryptography for the
    authorizer and refresh functions (built for the configured architecture and runtime). When set, the module does not run pip.
  EOT
  default     = []

  validation {
    condition     = alltrue([for arn in var.authorizer_layer_arns : can(regex("^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", arn))])
    error_message = "authorizer_layer_arns must hold versioned layer ARNs (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."
  }
}

variable "python_executable" {
  type        = string
  description = "Python interpreter (with pip) on the machine running terraform apply; builds the authorizer's dependency layer."
  default     = "python3"
}

# ---------------------------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------------------------

variable "enable_client_push" {
  type        = bool
  description = "Let connected clients send notifications with {\"action\": \"push\"} (creates the push route). Off by default: only backends publish."
  default     = false
}

variable "enable_broadcast" {
  type        = bool
  description = "Allow {\"broadcast\": true} (every live connection; grants the push role dynamodb:Scan on the connections table)."
  default     = false
}

variable "persist_by_default" {
  type        = bool
  description = "Store a notification in history when the request does not say (PERSIST_DEFAULT)."
  default     = true
}

variable "history_ttl_seconds" {
  type        = number
  description = "Default lifetime of stored notifications, in seconds (HISTORY_TTL_SECONDS)."
  default     = 604800

  validation {
    condition     = var.history_ttl_seconds >= 60 && var.history_ttl_seconds == floor(var.history_ttl_seconds)
    error_message = "history_ttl_seconds must be a whole number >= 60."
  }
}

variable "history_max_ttl_seconds" {
  type        = number
  description = "Upper bound of a request's ttlSeconds (HISTORY_MAX_TTL_SECONDS); at least history_ttl_seconds, at most one year."
  default     = 2592000

  validation {
    condition     = var.history_max_ttl_seconds >= 60 && var.history_max_ttl_seconds <= 31536000 && var.history_max_ttl_seconds == floor(var.history_max_ttl_seconds)
    error_message = "history_max_ttl_seconds must be a whole number between 60 and 31536000."
  }
}

variable "idempotency_window_seconds" {
  type        = number
  description = "How long a push's idempotencyKey is remembered (IDEMPOTENCY_WINDOW_SECONDS): within it, a repeat gets the first attempt's notification id and stores nothing twice. Default 24 hours."
  default     = 86400

  validation {
    condition     = var.idempotency_window_seconds >= 60 && var.idempotency_window_seconds <= 604800 && var.idempotency_window_seconds == floor(var.idempotency_window_seconds)
    error_message = "idempotency_window_seconds must be a whole number between 60 and 604800 (7 days)."
  }
}

variable "poll_lookback_seconds" {
  type        = number
  description = "How far before its `after` cursor a poll re-reads history (POLL_LOOKBACK_SECONDS), so a notification written late by a slower push is not skipped; clients drop ids they have seen."
  default     = 30

  validation {
    condition     = var.poll_lookback_seconds >= 0 && var.poll_lookback_seconds <= 900 && var.poll_lookback_seconds == floor(var.poll_lookback_seconds)
    error_message = "poll_lookback_seconds must be a whole number between 0 and 900."
  }
}

variable "connection_ttl_seconds" {
  type        = number
  description = "Lifetime of a connection row (CONNECTION_TTL_SECONDS): API Gateway closes connections after 2 hours; the default adds 5 minutes. At least 7260 (2 hours plus a minute)."
  default     = 7500

  validation {
    # A row must outlive its connection: broadcast reads only unexpired rows, so a shorter TTL
    # would skip connections that API Gateway still keeps open (up to 2 hours).
    condition     = var.connection_ttl_seconds >= 7260 && var.connection_ttl_seconds <= 86400 && var.connection_ttl_seconds == floor(var.connection_ttl_seconds)
    error_message = "connection_ttl_seconds must be a whole number between 7260 (API Gateway's 2-hour connection limit plus a minute) and 86400."
  }
}

variable "push_send_concurrency" {
  type        = number
  description = "Concurrent PostToConnection calls per push/poll invocation (SEND_CONCURRENCY). Higher fans out faster but meets the account's 10,000 rps @connections quota sooner."
  default     = 32

  validation {
    condition     = var.push_send_concurrency >= 1 && var.push_send_concurrency <= 512 && var.push_send_concurrency == floor(var.push_send_concurrency)
    error_message = "push_send_concurrency must be a whole number between 1 and 512."
  }
}

variable "broadcast_scan_segments" {
  type        = number
  description = "Parallel Scan segments used by a broadcast (BROADCAST_SCAN_SEGMENTS)."
  default     = 4

  validation {
    condition     = var.broadcast_scan_segments >= 1 && var.broadcast_scan_segments <= 64 && var.broadcast_scan_segments == floor(var.broadcast_scan_segments)
    error_message = "broadcast_scan_segments must be a whole number between 1 and 64."
  }
}

# ---------------------------------------------------------------------------------------------
# Lambda
# ---------------------------------------------------------------------------------------------

variable "lambda_architecture" {
  type        = string
  description = "CPU architecture of every function (and of the authorizer's dependency layer): arm64 (cheaper) or x86_64."
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_runtime" {
  type        = string
  description = "Python runtime of every function; the dependency layer is built for the same version."
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.11, python3.12 or python3.13."
  }
}

variable "lambda_memory_size" {
  type        = number
  description = "Memory (MB) of connect, disconnect, poll and authorizer."
  default     = 256

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240
    error_message = "lambda_memory_size must be between 128 and 10240."
  }
}

variable "lambda_timeout" {
  type        = number
  description = "Timeout (seconds) of connect, disconnect, poll and authorizer; API Gateway stops waiting after 29 s."
  default     = 10

  validation {
    condition     = var.lambda_timeout >= 1 && var.lambda_timeout <= 29
    error_message = "lambda_timeout must be between 1 and 29 seconds (API Gateway's integration timeout)."
  }
}

variable "push_memory_size" {
  type        = number
  description = "Memory (MB) of the push function; more memory means more CPU and network for fan-out."
  default     = 512

  validation {
    condition     = var.push_memory_size >= 128 && var.push_memory_size <= 10240
    error_message = "push_memory_size must be between 128 and 10240."
  }
}

variable "push_timeout" {
  type        = number
  description = "Timeout (seconds) of the push function (direct invokes may take up to 900 s; routes stop waiting after 29 s)."
  default     = 29

  validation {
    condition     = var.push_timeout >= 1 && var.push_timeout <= 900
    error_message = "push_timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  type        = map(number)
  description = "Reserved concurrency per function name (connect, disconnect, push, poll, authorizer). Unlisted functions use the unreserved pool."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.reserved_concurrency : contains(["connect", "disconnect", "push", "poll", "authorizer"], k) && v >= 1 && v == floor(v)])
    error_message = "reserved_concurrency keys must be connect, disconnect, push, poll or authorizer, with whole numbers >= 1 (0 stops the function: every invocation is throttled)."
  }
}

variable "tracing_enabled" {
  type        = bool
  description = "Active X-Ray tracing on every function (adds the AWSXRayDaemonWriteAccess policy). Off: PassThrough."
  default     = false
}

variable "log_level" {
  type        = string
  description = "LOG_LEVEL of every function."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group (functions and API access logs), in days."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  type        = string
  description = "KMS key ARN encrypting every log group (its key policy must allow CloudWatch Logs). Null: CloudWatch's default encryption."
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.log_kms_key_arn, "-")))
    error_message = "log_kms_key_arn must be a KMS key ARN."
  }
}

variable "lambda_kms_key_arn" {
  type        = string
  description = "KMS key ARN encrypting the functions' environment variables. Null: the AWS-managed Lambda key (the variables hold names and URLs, never secrets)."
  default     = null

  validation {
    condition     = var.lambda_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.lambda_kms_key_arn, "-")))
    error_message = "lambda_kms_key_arn must be a KMS key ARN."
  }
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary for every IAM role the module creates."
  default     = null
}

# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

variable "table_billing_mode" {
  type        = string
  description = "DynamoDB billing mode: PAY_PER_REQUEST (nothing to pay at idle) or PROVISIONED (5 RCU/WCU each)."
  default     = "PAY_PER_REQUEST"

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.table_billing_mode)
    error_message = "table_billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }
}

variable "table_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for both tables. Null: the AWS-owned key (tables are always encrypted at rest)."
  default     = null

  validation {
    condition     = var.table_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.table_kms_key_arn, "-")))
    error_message = "table_kms_key_arn must be a KMS key ARN."
  }
}

variable "connections_point_in_time_recovery" {
  type        = bool
  description = "Point-in-time recovery of the connections table (off: rows live at most ~2 hours and reconnecting clients rebuild them)."
  default     = false
}

variable "notifications_point_in_time_recovery" {
  type        = bool
  description = "Point-in-time recovery of the notification history table."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "DynamoDB deletion protection on both tables."
  default     = false
}

# ---------------------------------------------------------------------------------------------
# WebSocket API
# ---------------------------------------------------------------------------------------------

variable "stage_name" {
  type        = string
  description = "WebSocket stage name (part of the wss:// URL)."
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be 1-128 letters, digits, '_' or '-'."
  }
}

variable "websocket_auto_deploy" {
  type        = bool
  description = "Use stage AutoDeploy instead of explicit hash-triggered deployments of the WebSocket API. Keep false on AWS; true is for emulators without CreateDeployment (moto)."
  default     = false
}

variable "throttling_burst_limit" {
  type        = number
  description = "WebSocket stage default route throttling: burst."
  default     = 500

  validation {
    condition     = var.throttling_burst_limit >= 1 && var.throttling_burst_limit == floor(var.throttling_burst_limit)
    error_message = "throttling_burst_limit must be a whole number >= 1 (API Gateway throttles every request at 0)."
  }
}

variable "throttling_rate_limit" {
  type        = number
  description = "WebSocket stage default route throttling: requests per second."
  default     = 1000

  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "throttling_rate_limit must be > 0 (API Gateway throttles every request at 0)."
  }
}

variable "enable_websocket_access_logs" {
  type        = bool
  description = <<-EOT
    JSON access logs of the WebSocket stage (a log group with log_retention_days). Off by default: AWS refuses stage
    logging until the account and Region has an API Gateway CloudWatch role, which this module does not set unless
    asked. To switch on: set the role once per Region (modules/api-gateway-account in a bootstrap stack) and set
    api_gateway_account_role_exists = true, or set create_api_gateway_account_role = true (see README).
  EOT
  default     = false
}

variable "api_logging_level" {
  type        = string
  description = "WebSocket execution logging (OFF, ERROR, INFO), into API-Gateway-Execution-Logs_{api_id}/{stage} with log_retention_days. Like access logs, anything but OFF needs the Region's API Gateway CloudWatch role. Data trace is always off."
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.api_logging_level)
    error_message = "api_logging_level must be OFF, ERROR or INFO."
  }
}

variable "api_gateway_account_role_exists" {
  type        = bool
  description = "Confirms that this account and Region already has an API Gateway CloudWatch role (set by another stack, e.g. modules/api-gateway-account). Required, or create_api_gateway_account_role, before any WebSocket stage logging."
  default     = false
}

variable "create_api_gateway_account_role" {
  type        = bool
  description = <<-EOT
    Let THIS stack set the Region-wide API Gateway account setting (aws_api_gateway_account, through
    modules/api-gateway-account): one role for every REST and WebSocket API of the account in this Region. Off by
    default: an application stack should not own a Region-wide setting. On destroy the setting is reset (other APIs
    in the Region that log fail their next stage update until a role is set again). Prefer a bootstrap stack.
  EOT
  default     = false
}

# ---------------------------------------------------------------------------------------------
# Optional HTTP publish endpoint
# ---------------------------------------------------------------------------------------------

variable "create_http_api" {
  type        = bool
  description = "Create the management HTTP API (docs/openapi.yaml): IAM (SigV4) routes for backends under /v1 (publish, presence, revocation) and, unless auth.mode is disabled, JWT routes for end users under /v1/me."
  default     = false
}

variable "http_api" {
  type = object({
    cors_allow_origins   = optional(list(string), [])
    cors_max_age_seconds = optional(number, 600)
    default_throttling = optional(object({
      burst_limit = number
      rate_limit  = number
    }), { burst_limit = 100, rate_limit = 50 })
    route_throttling = optional(map(object({
      burst_limit = number
      rate_limit  = number
    })), {})
    access_log_enabled   = optional(bool, true)
    admin_principal_arns = optional(list(string), [])
  })
  description = <<-EOT
    Settings of the management HTTP API (create_http_api).
    - cors_allow_origins: origins allowed to call /v1/me/* from a browser (exact https:// origins; empty = no CORS,
      the default; "*" only if you list it). Only GET and the Authorization header are allowed cross-origin (with
      mobile push also PUT and DELETE, for /v1/me/devices, and Content-Type); a browser cannot sign SigV4, so it can
      never reach the IAM routes.
    - cors_max_age_seconds: how long browsers cache a preflight (0-86400).
    - default_throttling: stage-wide burst/rate limits per route (requests per second).
    - route_throttling: per-route overrides keyed by route key, e.g. "POST /v1/notifications".
    - access_log_enabled: JSON access logs to a CloudWatch log group with log_retention_days (HTTP APIs need no
      account-wide API Gateway role for this). Never a token or a body.
    - admin_principal_arns: IAM user/role ARNs allowed to list connection ids (GET ...?include=connectionIds).
  EOT
  default     = {}

  validation {
    condition = alltrue([
      for o in var.http_api.cors_allow_origins : o == "*" || can(regex("^https?://[a-zA-Z0-9.-]+(:[0-9]+)?$", o))
    ])
    error_message = "http_api.cors_allow_origins holds origins such as https://app.example.com (scheme, host, optional port; no path), or \"*\"."
  }

  validation {
    condition     = var.http_api.cors_max_age_seconds >= 0 && var.http_api.cors_max_age_seconds <= 86400
    error_message = "http_api.cors_max_age_seconds must be 0-86400."
  }

  validation {
    condition = alltrue([
      for t in concat([var.http_api.default_throttling], values(var.http_api.route_throttling)) : t.burst_limit >= 1 && t.rate_limit > 0
    ])
    error_message = "http_api throttling limits must be > 0 (API Gateway throttles every request at 0)."
  }

  validation {
    condition = alltrue([
      for k in keys(var.http_api.route_throttling) : contains([
        "POST /v1/notifications", "GET /v1/users/{userId}/connections", "DELETE /v1/users/{userId}/connections", "GET /v1/me/notifications",
        "PUT /v1/me/devices/{token}", "DELETE /v1/me/devices/{token}", "GET /v1/me/devices",
        "PUT /v1/users/{userId}/devices/{token}", "DELETE /v1/users/{userId}/devices/{token}", "GET /v1/users/{userId}/devices",
        "PUT /v1/users/{userId}", "GET /v1/users/{userId}", "DELETE /v1/users/{userId}",
      ], k)
    ])
    error_message = "http_api.route_throttling keys must be route keys of the HTTP API, such as \"POST /v1/notifications\"."
  }

  validation {
    condition     = alltrue([for a in var.http_api.admin_principal_arns : can(regex("^arn:aws[a-zA-Z-]*:(iam|sts)::[0-9]{12}:", a))])
    error_message = "http_api.admin_principal_arns must be IAM user, role or assumed-role ARNs."
  }
}

# ---------------------------------------------------------------------------------------------
# Mobile push through Amazon SNS (README "Mobile push")
# ---------------------------------------------------------------------------------------------

variable "mobile_push" {
  type = object({
    platform_applications = optional(map(object({
      arn         = optional(string)
      secret_name = optional(string)
    })), {})
    success_sample_rate       = optional(number, 0)
    failure_feedback_role_arn = optional(string)
    success_feedback_role_arn = optional(string)
  })
  description = <<-EOT
    Mobile push through Amazon SNS: on when platform_applications names at least one platform. Creates the device
    registry (a DynamoDB table), the devices function (direct invoke, and the /devices routes of the HTTP API) and
    lets push reach devices (the request's `mobile` part).
    - platform_applications: keyed by platform, "APNS", "APNS_SANDBOX" or "GCM" (FCM), each with exactly one of
      - arn: an existing SNS platform application (recommended: its credentials never enter Terraform state), or
      - secret_name: a Secrets Manager secret whose JSON holds platform_credential and, as the platform needs,
        platform_principal, apple_platform_team_id, apple_platform_bundle_id; the module creates the platform
        application from it, so the credential lands in Terraform state (marked sensitive: protect the state).
    - success_sample_rate, failure_feedback_role_arn, success_feedback_role_arn: SNS delivery status logging to
      CloudWatch Logs of the platform applications the module creates (the role SNS assumes to write logs; all
      failures are logged once a failure role is set, successes sampled at the rate, 0-100 percent). For an
      application passed by ARN, configure its logging where it is managed.
  EOT
  default     = {}

  validation {
    condition = alltrue([
      for p, app in var.mobile_push.platform_applications :
      contains(["APNS", "APNS_SANDBOX", "GCM"], p) && ((app.arn == null) != (app.secret_name == null))
    ])
    error_message = "mobile_push.platform_applications keys are APNS, APNS_SANDBOX or GCM, each with exactly one of arn or secret_name."
  }

  validation {
    condition = alltrue([
      for p, app in var.mobile_push.platform_applications :
      app.arn == null || can(regex("^arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:[0-9]{12}:app/${p}/[A-Za-z0-9_.-]+$", app.arn))
    ])
    error_message = "mobile_push.platform_applications[*].arn must be the ARN of an SNS platform application of that platform (arn:aws:sns:REGION:ACCOUNT:app/PLATFORM/NAME)."
  }

  validation {
    condition     = var.mobile_push.success_sample_rate >= 0 && var.mobile_push.success_sample_rate <= 100
    error_message = "mobile_push.success_sample_rate is a percentage, 0-100."
  }

  validation {
    condition = alltrue([
      for r in [var.mobile_push.failure_feedback_role_arn, var.mobile_push.success_feedback_role_arn] :
      r == null || can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/", r))
    ])
    error_message = "mobile_push feedback roles must be IAM role ARNs."
  }
}

# ---------------------------------------------------------------------------------------------
# Security safeguards (docs/security.md)
# ---------------------------------------------------------------------------------------------

variable "token_expiry_sweep_schedule" {
  type        = string
  description = "EventBridge schedule of the sweeper that closes connections whose token has expired (with authentication on). A connection outlives its token by at most this period."
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^rate\\((1 minute|[2-9] minutes|1[0-5] minutes)\\)$", var.token_expiry_sweep_schedule))
    error_message = "token_expiry_sweep_schedule must be rate(1 minute) up to rate(15 minutes)."
  }
}

variable "client_push" {
  type = object({
    policy                  = optional(string, "anybody")
    claim                   = optional(string, "notify_recipients")
    policy_function_arn     = optional(string)
    rate_limit              = optional(number, 30)
    rate_window_seconds     = optional(number, 60)
    max_recipients          = optional(number, 10)
    history_max_ttl_seconds = optional(number, 86400)
  })
  description = <<-EOT
    Safeguards of client push (enable_client_push).
    - policy: who may message whom. "anybody"; "claim" (only the user ids listed in the sender's token claim `claim`,
      a JSON array of strings or a space-separated string, passed on by the authorizer); or "lambda" (the function
      policy_function_arn receives {"sender", "recipients", "messageBytes"} and answers {"allow": true|false};
      the push role may invoke only it).
    - rate_limit pushes per rate_window_seconds per sender (a fixed window counted in DynamoDB); more get RATE_LIMITED.
    - max_recipients per client push (backends keep 100); history_max_ttl_seconds caps a client push's ttlSeconds.
  EOT
  default     = {}

  validation {
    condition     = contains(["anybody", "claim", "lambda"], var.client_push.policy)
    error_message = "client_push.policy must be anybody, claim or lambda."
  }

  validation {
    condition     = var.client_push.policy != "lambda" || can(regex("^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", coalesce(var.client_push.policy_function_arn, "-")))
    error_message = "client_push.policy_function_arn must be a Lambda function ARN when client_push.policy is lambda."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_:./-]{1,128}$", var.client_push.claim))
    error_message = "client_push.claim must be a claim name (1-128 letters, digits, '_', ':', '.', '/', '-')."
  }

  validation {
    condition = (var.client_push.rate_limit >= 1 && var.client_push.rate_limit <= 100000 && var.client_push.rate_limit == floor(var.client_push.rate_limit)
      && var.client_push.rate_window_seconds >= 1 && var.client_push.rate_window_seconds <= 86400 && var.client_push.rate_window_seconds == floor(var.client_push.rate_window_seconds)
      && var.client_push.max_recipients >= 1 && var.client_push.max_recipients <= 100 && var.client_push.max_recipients == floor(var.client_push.max_recipients)
    && var.client_push.history_max_ttl_seconds >= 60 && var.client_push.history_max_ttl_seconds <= 31536000 && var.client_push.history_max_ttl_seconds == floor(var.client_push.history_max_ttl_seconds))
    error_message = "client_push: rate_limit 1-100000, rate_window_seconds 1-86400, max_recipients 1-100, history_max_ttl_seconds 60-31536000, all whole numbers."
  }
}

variable "route_throttling" {
  type = map(object({
    burst_limit = number
    rate_limit  = number
  }))
  description = "Throttling of single WebSocket routes, below the stage default (throttling_*), so one noisy route cannot use the whole stage's budget. Keys: push, poll, refresh, subscribe, unsubscribe."
  default = {
    push        = { burst_limit = 50, rate_limit = 25 }
    poll        = { burst_limit = 100, rate_limit = 50 }
    refresh     = { burst_limit = 50, rate_limit = 25 }
    subscribe   = { burst_limit = 50, rate_limit = 25 }
    unsubscribe = { burst_limit = 50, rate_limit = 25 }
  }

  validation {
    condition     = alltrue([for k, v in var.route_throttling : contains(["push", "poll", "refresh", "subscribe", "unsubscribe"], k) && v.burst_limit >= 0 && v.rate_limit >= 0 && v.burst_limit == floor(v.burst_limit)])
    error_message = "route_throttling keys must be push, poll, refresh, subscribe or unsubscribe, with limits >= 0 (burst_limit a whole number)."
  }
}

variable "push_async_failure_queue_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key of the SQS queue that receives push's failed asynchronous invocations. Null: SQS-managed encryption."
  default     = null

  validation {
    condition     = var.push_async_failure_queue_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.push_async_failure_queue_kms_key_arn, "-")))
    error_message = "push_async_failure_queue_kms_key_arn must be a KMS key ARN."
  }
}

variable "topics" {
  type = object({
    enabled = optional(bool, true)
    claim   = optional(string, "topics")
    default_namespace = optional(object({
      self_subscribe      = optional(bool, false)
      history             = optional(bool, true)
      history_ttl_seconds = optional(number, 604800)
    }), {})
    namespaces = optional(map(object({
      self_subscribe      = optional(bool, false)
      history             = optional(bool, true)
      history_ttl_seconds = optional(number, 604800)
    })), {})
  })
  description = <<-EOT
    Topics and subscriptions (README "Topics"). On by default: two on-demand tables and a function cost nothing at idle.
    - claim: the token claim listing the topics a user may subscribe to by themselves (an array or a space-separated
      string; exact topics or prefixes ending in "*", e.g. "news:*").
    - default_namespace: options of topics without a "namespace:" prefix; namespaces: the other namespaces
      ([a-z0-9_-]{1,32}); a topic of any other namespace is refused. Options: self_subscribe (end users may subscribe
      themselves to any topic of the namespace), history (pushes are stored once per topic for subscribers to poll),
      history_ttl_seconds (how long; at most history_max_ttl_seconds applies to a push).
  EOT
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.topics.namespaces) : can(regex("^[a-z0-9_-]{1,32}$", k))])
    error_message = "topics.namespaces keys must be 1-32 characters of a-z, 0-9, '_' or '-'."
  }

  validation {
    condition = alltrue([for ns in concat([var.topics.default_namespace], values(var.topics.namespaces)) :
    ns.history_ttl_seconds >= 60 && ns.history_ttl_seconds <= 31536000 && ns.history_ttl_seconds == floor(ns.history_ttl_seconds)])
    error_message = "topics: history_ttl_seconds must be a whole number of seconds, 60-31536000."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_:./-]{1,128}$", var.topics.claim))
    error_message = "topics.claim must be a claim name (1-128 letters, digits, '_', ':', '.', '/', '-')."
  }
}

variable "segment_attributes" {
  type        = list(string)
  description = "Profile attributes that segments may target (PUT /v1/users/{userId}, push `segment`): each is indexed (one item per value and user in the segment-index table). Profiles are stored either way; a segment naming an undeclared attribute is refused. Names: 1-64 letters, digits, '_', '.' or '-'; at most 50."
  default     = []

  validation {
    condition     = length(var.segment_attributes) <= 50 && length(distinct(var.segment_attributes)) == length(var.segment_attributes) && alltrue([for a in var.segment_attributes : can(regex("^[A-Za-z0-9_.-]{1,64}$", a))])
    error_message = "segment_attributes must hold at most 50 unique names of 1-64 letters, digits, '_', '.' or '-'."
  }
}

variable "scheduling" {
  type = object({
    enabled                   = optional(bool, true)
    default_timezone          = optional(string, "UTC")
    retry_attempts            = optional(number, 3)
    maximum_event_age_seconds = optional(number, 3600)
    dlq_kms_key_arn           = optional(string)
  })
  description = "Scheduled sends on EventBridge Scheduler (sendAt, delaySeconds, localTime, recurrence; README \"Scheduled notifications\"): a schedule group, the role Scheduler assumes to invoke push (only), an encrypted dead-letter queue, the schedules table and function. default_timezone: the IANA zone of users without a profile timezone (localTime). retry_attempts (0-185) and maximum_event_age_seconds (60-86400): Scheduler's retry policy on every schedule. An idle group, queue and on-demand table cost nothing."
  default     = {}

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", var.scheduling.default_timezone)) && length(var.scheduling.default_timezone) <= 50
    error_message = "scheduling.default_timezone must be an IANA time zone name (e.g. UTC, Europe/Berlin)."
  }

  validation {
    condition     = var.scheduling.retry_attempts >= 0 && var.scheduling.retry_attempts <= 185 && floor(var.scheduling.retry_attempts) == var.scheduling.retry_attempts
    error_message = "scheduling.retry_attempts must be a whole number 0-185 (Scheduler's range)."
  }

  validation {
    condition     = var.scheduling.maximum_event_age_seconds >= 60 && var.scheduling.maximum_event_age_seconds <= 86400
    error_message = "scheduling.maximum_event_age_seconds must be 60-86400 (Scheduler's range)."
  }

  validation {
    condition     = var.scheduling.dlq_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.scheduling.dlq_kms_key_arn, "-")))
    error_message = "scheduling.dlq_kms_key_arn must be a KMS key ARN."
  }
}

variable "fanout" {
  type = object({
    enabled                    = optional(bool, true)
    shard_size                 = optional(number, 1000)
    max_concurrency            = optional(number, 10)
    batch_size                 = optional(number, 1)
    max_receive_count          = optional(number, 3)
    queue_kms_key_arn          = optional(string)
    timeout                    = optional(number, 60)
    memory_size                = optional(number, 512)
    visibility_timeout_seconds = optional(number)
  })
  description = "Sharded fan-out jobs (docs/architecture.md, \"Fan-out jobs\"): a backend push whose audience exceeds shard_size recipients is split into shards on an SQS queue (SSE; queue_kms_key_arn optional) and delivered by the fanout function, at most max_concurrency at once, batch_size shards per invocation; a shard failing max_receive_count times goes to the dead-letter queue. timeout/memory_size: the fanout function's; visibility_timeout_seconds defaults to six times timeout. An idle queue costs nothing but the poller's empty receives."
  default     = {}

  validation {
    condition     = var.fanout.shard_size >= 1 && var.fanout.shard_size <= 1000 && var.fanout.shard_size == floor(var.fanout.shard_size)
    error_message = "fanout.shard_size must be a whole number between 1 and 1000 (a shard's user ids travel in one 256 KB SQS message)."
  }

  validation {
    condition     = var.fanout.max_concurrency >= 2 && var.fanout.max_concurrency <= 1000 && var.fanout.max_concurrency == floor(var.fanout.max_concurrency)
    error_message = "fanout.max_concurrency must be a whole number between 2 and 1000 (AWS's limits for SQS event source mappings)."
  }

  validation {
    condition     = var.fanout.batch_size >= 1 && var.fanout.batch_size <= 10 && var.fanout.batch_size == floor(var.fanout.batch_size)
    error_message = "fanout.batch_size must be a whole number between 1 and 10."
  }

  validation {
    condition     = var.fanout.max_receive_count >= 1 && var.fanout.max_receive_count <= 1000 && var.fanout.max_receive_count == floor(var.fanout.max_receive_count)
    error_message = "fanout.max_receive_count must be a whole number between 1 and 1000."
  }

  validation {
    condition     = var.fanout.timeout >= 1 && var.fanout.timeout <= 900 && var.fanout.memory_size >= 128 && var.fanout.memory_size <= 10240
    error_message = "fanout.timeout must be 1..900 seconds and fanout.memory_size 128..10240 MB."
  }

  validation {
    condition     = var.fanout.queue_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.fanout.queue_kms_key_arn, "-")))
    error_message = "fanout.queue_kms_key_arn must be a KMS key ARN."
  }
}
