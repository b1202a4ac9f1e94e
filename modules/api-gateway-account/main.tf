# The Region-wide API Gateway account setting: the IAM role API Gateway uses to write execution
# and access logs for EVERY REST and WebSocket API of the account in this Region. It is one setting
# per account and Region, so it belongs in one stack only (a bootstrap stack, or this module called
# once per Region); an application stack that owns it changes every other API's logging.

data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_service_principal" "apigateway" {
  service_name = "apigateway"
}

resource "aws_iam_role" "this" {
  count = var.create ? 1 : 0

  # Role names are account-global: the Region keeps a second Region's stack from colliding.
  name                 = "${var.name}-${data.aws_region.current.name}"
  description          = "Lets API Gateway write CloudWatch Logs for every API in ${data.aws_region.current.name}."
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = data.aws_service_principal.apigateway.name }
    }]
  })
  tags = var.tags

  lifecycle {
    precondition {
      condition     = length("${var.name}-${data.aws_region.current.name}") <= 64
      error_message = "name plus '-<region>' must fit IAM's 64-character role name limit; shorten name."
    }
  }
}

resource "aws_iam_role_policy_attachment" "this" {
  count = var.create ? 1 : 0

  role       = aws_iam_role.this[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.create ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.this[0].arn
  # aws provider 5.x leaves the setting pointing at the deleted role on destroy unless told
  # otherwise; a dangling role ARN makes every later stage with logging fail. Reset it instead
  # (6.x always resets and removed the argument; versions.tf keeps us on 5.x).
  reset_on_delete = true

  depends_on = [aws_iam_role_policy_attachment.this]
}
