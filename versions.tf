terraform {
  # 1.7: mock providers in `terraform test`; optional() object attributes with defaults.
  required_version = ">= 1.7"

  required_providers {
    # 5.60: aws_service_principal; 5.75: aws_api_gateway_account.reset_on_delete; 5.80 and up
    # cover every runtime the module accepts. 6.0 removed reset_on_delete and deprecates
    # data.aws_region.name: the tests run 5.x (5.100.0) only, so 6.x is not claimed.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
    # 2.4: doublestar glob patterns in archive_file excludes (caches, tests).
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}
