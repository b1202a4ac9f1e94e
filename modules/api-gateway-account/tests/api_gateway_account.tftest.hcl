# Unit tests of the Region-wide API Gateway account setting: named per Region, assumable by API
# Gateway only, reset on destroy, and nothing at all when create is false.
mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "ap-southeast-2" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_service_principal" {
    defaults = { name = "apigateway.amazonaws.com" }
  }
}

run "sets_the_regions_role_and_resets_it_on_destroy" {
  command = plan

  assert {
    condition     = aws_iam_role.this[0].name == "apigateway-cloudwatch-logs-ap-southeast-2"
    error_message = "the role name carries the Region (IAM names are account-global)"
  }

  assert {
    condition     = jsondecode(aws_iam_role.this[0].assume_role_policy).Statement[0].Principal.Service == "apigateway.amazonaws.com"
    error_message = "only API Gateway may assume the role"
  }

  assert {
    condition     = aws_iam_role_policy_attachment.this[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    error_message = "the AWS policy for API Gateway logging"
  }

  assert {
    condition     = aws_api_gateway_account.this[0].reset_on_delete
    error_message = "destroy resets the Region's setting instead of leaving it on a deleted role"
  }
}

run "create_false_creates_nothing" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_iam_role.this) == 0 && length(aws_api_gateway_account.this) == 0 && output.cloudwatch_role_arn == null
    error_message = "create = false creates nothing"
  }
}

run "rejects_bad_names" {
  command = plan

  variables {
    name = "no spaces allowed"
  }

  expect_failures = [var.name]
}
