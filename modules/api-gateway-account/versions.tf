terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.60: aws_service_principal; 5.75: reset_on_delete. 6.0 removed reset_on_delete (it then
      # always resets): the tests run 5.x only.
      version = ">= 5.80, < 6.0"
    }
  }
}
