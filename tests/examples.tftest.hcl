# The examples, planned against a mocked AWS provider: they must wire the module correctly.
# examples/complete cannot run here: mock providers do not support ephemeral resources (its
# generated secret); it is applied for real against moto by the local stack (make demo).
mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
}

run "minimal" {
  command = plan

  module {
    source = "./examples/minimal"
  }

  assert {
    condition     = output.jwt_secret_parameter_name == "/ws-notify/jwt-secret"
    error_message = "defaults: HS256 with the secret in /ws-notify/jwt-secret"
  }

  assert {
    condition     = output.push_function_name == "ws-notify-push"
    error_message = "defaults: functions named after the default prefix"
  }
}
