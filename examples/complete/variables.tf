variable "region" {
  type        = string
  description = "AWS Region to deploy to."
  default     = "eu-west-1"
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."
  default     = "ws-notify-demo"
}

variable "jwt_secret_version" {
  type        = number
  description = "Bump to rotate the HS256 secret: a new random value is written to SSM (existing connections stay open)."
  default     = 1
}

variable "enable_websocket_access_logs" {
  type        = bool
  description = "JSON access logs of the WebSocket stage. Needs this Region's API Gateway CloudWatch role: set api_gateway_account_role_exists (another stack set it) or create_api_gateway_account_role."
  default     = false
}

variable "api_gateway_account_role_exists" {
  type        = bool
  description = "This account and Region already has an API Gateway CloudWatch role (e.g. from modules/api-gateway-account in a bootstrap stack)."
  default     = false
}

variable "create_api_gateway_account_role" {
  type        = bool
  description = "Let this example set the Region-wide API Gateway CloudWatch role (a setting shared by every API in the Region; reset on destroy). Prefer a bootstrap stack."
  default     = false
}

variable "cors_allow_origins" {
  type        = list(string)
  description = "Browser origins allowed to call the HTTP API's /v1/me routes (empty: no CORS)."
  default     = ["http://localhost:3000"]
}

variable "mobile_platform_applications" {
  type        = map(string)
  description = "Mobile push: ARN of an existing SNS platform application per platform (APNS, APNS_SANDBOX, GCM); empty = no mobile push. The local stack passes applications it created with fake credentials."
  default     = {}
}
