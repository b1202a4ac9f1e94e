"""Offline stand-in for the ``hashicorp/archive`` Terraform provider (``archive_file`` data source).

OFFLINE TESTING ONLY. ``scripts/tf-env.sh`` installs it into a generated filesystem mirror when
the Terraform registry is unreachable, so that ``terraform init/validate/test/apply`` of this
project work on an air-gapped machine. The Terraform module always requires the real
``hashicorp/archive``; users never run this code. See README.md in this folder.
"""
