"""scripts/module_docs.py: tables rendered from .tf files, stale READMEs detected."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("module_docs", REPO / "scripts" / "module_docs.py")
assert _spec and _spec.loader
module_docs = importlib.util.module_from_spec(_spec)
sys.modules["module_docs"] = module_docs
_spec.loader.exec_module(module_docs)

VARIABLES = """
variable "name" {
  type        = string
  description = "The name | with a pipe."
}

variable "limits" {
  type = object({
    burst = optional(number, 5)
  })
  description = <<-EOT
    Two lines
    of text.
  EOT
  default     = { burst = 1 }
}

variable "flag" {
  type    = bool
  default = false
}
"""
OUTPUTS = 'output "url" {\n  description = "Where it is."\n  value       = "x"\n}\n'


@pytest.fixture
def module(tmp_path: Path) -> Path:
    (tmp_path / "variables.tf").write_text(VARIABLES)
    (tmp_path / "outputs.tf").write_text(OUTPUTS)
    return tmp_path


def test_tables_from_the_tf_files(module: Path) -> None:
    assert module_docs.inputs_table(module)[2:] == [
        "| `name` | The name \\| with a pipe. | `string` | required |",
        "| `limits` | Two lines of text. | `object({burst = optional(number, 5)})` "
        "| `{ burst = 1 }` |",
        "| `flag` |  | `bool` | `false` |",
    ]
    assert module_docs.outputs_table(module)[2:] == ["| `url` | Where it is. |"]


def test_only_the_tables_under_the_headings_change(module: Path) -> None:
    readme = "# m\n\nProse.\n\n## Inputs\n\n| old |\n|---|\n\n## Outputs\n\n| old |\n\nEnd.\n"
    rendered = module_docs.render(module, readme)
    assert rendered.startswith("# m\n\nProse.\n\n## Inputs\n\n| Name | Description | Type |")
    assert "| old |" not in rendered and rendered.endswith("| `url` | Where it is. |\n\nEnd.\n")
    assert module_docs.render(module, rendered) == rendered  # idempotent


def test_the_repository_readmes_are_current() -> None:
    """What `make test` checks: every README table matches its module's .tf files."""
    assert module_docs.main(["--check"]) == 0
