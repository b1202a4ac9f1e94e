variable "region" {
  type        = string
  description = "AWS Region to deploy to."
  default     = "eu-west-1"
}
