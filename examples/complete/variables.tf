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

variable "create_api_gateway_account_role" {
  type        = bool
  description = "Set this Region's API Gateway CloudWatch role (WebSocket access logs need one). Set false if the account already has one."
  default     = true
}

variable "cors_allow_origins" {
  type        = list(string)
  description = "Browser origins allowed to call the HTTP API's /v1/me routes (empty: no CORS)."
  default     = ["http://localhost:3000"]
}
