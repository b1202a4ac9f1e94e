terraform {
  # 1.7: mock providers in `terraform test`; optional() object attributes with defaults.
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    # 2.4: doublestar glob patterns in archive_file excludes (caches, tests).
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}
