"""scripts/tf-env.sh and the archive stand-in driven by a real Terraform.

The tf-env.sh tests point TF_OFFLINE_DIR at a temporary folder: the shared .tf-offline of the
working tree, which teammates' Terraform runs use, is never rewritten by the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TF_ENV = REPO / "scripts" / "tf-env.sh"
BASH = shutil.which("bash") or "/bin/bash"
TERRAFORM = shutil.which("terraform")
ARCHIVE_VERSION = "2.7.1"


def harness_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TF_OFFLINE", None)
    env.update(
        TF_OFFLINE_DIR=str(tmp_path / "tf-offline"),
        TF_ARCHIVE_PYTHON=sys.executable,
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
    )
    env.update(extra)
    return env


def run_sourced(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` after sourcing tf-env.sh in a strict-mode bash, the way callers do."""
    body = f"set -euo pipefail\nsource {TF_ENV}\n{script}\n"
    return subprocess.run(  # noqa: S603 (fixed argv: bash and our own script)
        [BASH, "-c", body], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def fake_aws_mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "aws-mirror"
    (mirror / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64").mkdir(parents=True)
    return mirror


# ---------------------------------------------------------------------------- tf-env.sh


def test_offline_world_writes_a_mirror_only_cli_config(tmp_path: Path) -> None:
    mirror = fake_aws_mirror(tmp_path)
    env = harness_env(tmp_path, TF_OFFLINE="1", TF_AWS_MIRROR=str(mirror))
    result = run_sourced('echo "$TF_CLI_CONFIG_FILE"; echo "$TF_OFFLINE"', env, cwd=Path("/"))
    assert result.returncode == 0, result.stderr
    config_path, offline = result.stdout.split()
    assert offline == "1"
    assert result.stderr.count("\n") == 1 and "offline world" in result.stderr

    out_dir = (tmp_path / "tf-offline").resolve()
    assert Path(config_path) == out_dir / "terraformrc"
    config = Path(config_path).read_text()
    assert config.count("filesystem_mirror {") == 2
    assert f'path    = "{mirror.resolve()}"' in config
    assert f'path    = "{out_dir / "mirror"}"' in config
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in config
    assert 'include = ["registry.terraform.io/hashicorp/archive"]' in config
    assert "direct" not in config and "network_mirror" not in config

    platform = next((out_dir / "mirror/registry.terraform.io/hashicorp/archive").glob("*/*"))
    assert platform.parent.name == ARCHIVE_VERSION
    wrapper = platform / f"terraform-provider-archive_v{ARCHIVE_VERSION}"
    assert os.access(wrapper, os.X_OK)
    text = wrapper.read_text()
    assert f"python='{sys.executable}'" in text
    assert f"PYTHONPATH='{REPO}/tools'" in text
    assert "OFFLINE TESTING ONLY" in text


def test_resourcing_is_idempotent_and_drops_stale_versions(tmp_path: Path) -> None:
    env = harness_env(tmp_path, TF_OFFLINE="1", TF_AWS_MIRROR=str(fake_aws_mirror(tmp_path)))
    assert run_sourced("true", env, cwd=tmp_path).returncode == 0
    out_dir = tmp_path / "tf-offline"
    stale = out_dir / "mirror/registry.terraform.io/hashicorp/archive/2.0.0/linux_amd64"
    stale.mkdir(parents=True)
    files = [out_dir / "terraformrc", *out_dir.glob("mirror/**/terraform-provider-archive_*")]
    before = {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in files}

    result = run_sourced("true", env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in files} == before
    assert not stale.parent.exists()


def test_missing_aws_mirror_stops_a_strict_script(tmp_path: Path) -> None:
    env = harness_env(tmp_path, TF_OFFLINE="1", TF_AWS_MIRROR=str(tmp_path / "nowhere"))
    result = run_sourced("echo should-not-run", env, cwd=tmp_path)
    assert result.returncode != 0
    assert "should-not-run" not in result.stdout
    assert "no hashicorp/aws mirror" in result.stderr and "TF_AWS_MIRROR" in result.stderr


def test_online_world_leaves_terraform_alone(tmp_path: Path) -> None:
    env = harness_env(tmp_path, TF_OFFLINE="0", TF_CLI_CONFIG_FILE="/somewhere/.terraformrc")
    result = run_sourced('echo "$TF_CLI_CONFIG_FILE"', env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/somewhere/.terraformrc"
    assert "online world" in result.stderr
    assert not (tmp_path / "tf-offline").exists()


def test_online_world_drops_a_generated_config_from_the_same_shell(tmp_path: Path) -> None:
    env = harness_env(tmp_path, TF_OFFLINE="1", TF_AWS_MIRROR=str(fake_aws_mirror(tmp_path)))
    result = run_sourced(
        f'TF_OFFLINE=0; source {TF_ENV}; echo "${{TF_CLI_CONFIG_FILE:-unset}}"', env, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unset"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"TF_OFFLINE": "yes"}, "TF_OFFLINE must be 0, 1 or unset"),
        ({"TF_OFFLINE": "1", "TF_ARCHIVE_PYTHON": "relative/python"}, "must be absolute"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, extra: dict[str, str], message: str) -> None:
    env = harness_env(tmp_path, TF_AWS_MIRROR=str(fake_aws_mirror(tmp_path)), **extra)
    result = run_sourced("echo should-not-run", env, cwd=tmp_path)
    assert result.returncode != 0
    assert "should-not-run" not in result.stdout
    assert message in result.stderr


# ---------------------------------------------------------------------------- real Terraform

needs_terraform = pytest.mark.skipif(
    TERRAFORM is None, reason="terraform is not installed (not on PATH): Terraform runs skipped"
)

ARCHIVE_CONFIG = """
terraform {
  required_providers {
    archive = { source = "hashicorp/archive", version = ">= 2" }
  }
}

data "archive_file" "fn" {
  type             = "zip"
  source_dir       = "${path.module}/src"
  output_path      = "${path.module}/build/fn.zip"
  excludes         = ["**/__pycache__", "tests"]
  output_file_mode = "0644"
}

output "archive" {
  value = data.archive_file.fn
}
"""


def write_sources(workdir: Path) -> None:
    for rel, text in {
        "src/handler.py": "def handler(event, context):\n    return {}\n",
        "src/pkg/core.py": "X = 1\n",
        "src/pkg/__pycache__/core.cpython-311.pyc": "bytecode",
        "src/tests/test_core.py": "def test(): pass\n",
    }.items():
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (workdir / rel).write_text(text)


@needs_terraform
def test_terraform_apply_outputs_match_the_zip_on_disk(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "main.tf").write_text(textwrap.dedent(ARCHIVE_CONFIG))
    write_sources(workdir)
    script = """
        terraform init -input=false -no-color >&2
        terraform apply -auto-approve -input=false -no-color >&2
        terraform output -json archive
    """
    result = run_sourced(script, harness_env(tmp_path), cwd=workdir)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)

    zip_path = workdir / "build" / "fn.zip"
    data = zip_path.read_bytes()
    assert outputs["output_size"] == len(data)
    assert outputs["output_md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert outputs["output_sha"] == hashlib.sha1(data, usedforsecurity=False).hexdigest()
    assert outputs["id"] == outputs["output_sha"]
    assert outputs["output_sha256"] == hashlib.sha256(data).hexdigest()
    assert outputs["output_sha512"] == hashlib.sha512(data).hexdigest()
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == ["handler.py", "pkg/core.py"]
        assert {i.external_attr >> 16 & 0o777 for i in archive.infolist()} == {0o644}

    # A second apply over unchanged sources gives the same archive, byte for byte.
    again = run_sourced(
        "terraform apply -auto-approve -input=false -no-color >&2\nterraform output -json archive",
        harness_env(tmp_path),
        cwd=workdir,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["output_sha256"] == outputs["output_sha256"]
    assert zip_path.read_bytes() == data


@needs_terraform
def test_terraform_validate_with_aws_and_archive(tmp_path: Path) -> None:
    """Both providers install through the harness; aws needs no credentials to validate."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "main.tf").write_text(
        textwrap.dedent(
            """
            terraform {
              required_providers {
                aws     = { source = "hashicorp/aws", version = ">= 5" }
                archive = { source = "hashicorp/archive", version = ">= 2" }
              }
            }

            data "archive_file" "fn" {
              type        = "zip"
              source_dir  = "${path.module}/src"
              output_path = "${path.module}/build/fn.zip"
            }

            resource "aws_lambda_function" "fn" {
              function_name    = "example"
              role             = "arn:aws:iam::123456789012:role/example"
              runtime          = "python3.12"
              handler          = "handler.handler"
              filename         = data.archive_file.fn.output_path
              source_code_hash = data.archive_file.fn.output_base64sha256
            }
            """
        )
    )
    write_sources(workdir)
    script = "terraform init -input=false -no-color >&2\nterraform validate -no-color"
    result = run_sourced(script, harness_env(tmp_path), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "The configuration is valid" in result.stdout


@needs_terraform
def test_terraform_shows_the_stand_in_validation_error(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = ARCHIVE_CONFIG.replace(
        'source_dir       = "${path.module}/src"',
        'source_dir       = "${path.module}/src"\n  source_file      = "${path.module}/main.tf"',
    )
    (workdir / "main.tf").write_text(config)
    write_sources(workdir)
    script = "terraform init -input=false -no-color >&2\nterraform validate -no-color"
    result = run_sourced(script, harness_env(tmp_path), cwd=workdir)
    assert result.returncode != 0
    # Our wording offline, the real provider's attribute-conflict wording online: both name it.
    assert "source_file" in result.stderr
