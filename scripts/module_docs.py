"""The README Inputs/Outputs tables of the root module and of every submodule, generated from
their .tf files (python-hcl2), so documentation and variables cannot drift.

    python scripts/module_docs.py          # rewrite the tables in place
    python scripts/module_docs.py --check  # exit 1 and show a diff when a table is stale

Each README keeps its prose; only the Markdown table right under an "Inputs" or "Outputs"
heading is replaced. Types are the HCL expressions as python-hcl2 normalises them; defaults
are rendered in HCL (``required`` when a variable has none)."""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parent.parent
MODULES = {
    REPO: REPO / "README.md",
    **{d: d / "README.md" for d in sorted((REPO / "modules").iterdir()) if d.is_dir()},
}
_HEADING = re.compile(r"^#{2,3} (Inputs|Outputs)\s*$")


def _blocks(module: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for tf in sorted(module.glob("*.tf")):
        with tf.open() as fh:
            parsed = hcl2.load(fh)
        for block in parsed.get(kind, []):
            for name, body in block.items():
                found.append((name.strip('"'), body))
    return found


def _text(value: Any) -> str:
    """A description: quotes and heredoc markers removed, one line, pipes escaped."""
    text = str(value or "")
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    heredoc = re.match(r"<<-?(\w+)\n(.*)\n\s*\1$", text, re.S)
    if heredoc:
        text = textwrap.dedent(heredoc.group(2))
    text = text.replace('\\"', '"')
    return " ".join(text.split()).replace("|", "\\|")


def _expression(value: Any) -> str:
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return " ".join(text.split())


def _hcl(value: Any) -> str:
    """A default value in HCL notation."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return _expression(value)
        return value if value.startswith('"') else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ", ".join(f"{k.strip(chr(34))} = {_hcl(v)}" for k, v in value.items())
        return "{ " + items + " }"
    return str(value)


def _cell(value: str) -> str:
    return "`" + value.replace("`", "'") + "`"


def inputs_table(module: Path) -> list[str]:
    rows = ["| Name | Description | Type | Default |", "|------|-------------|------|---------|"]
    for name, body in _blocks(module, "variable"):
        default = _cell(_hcl(body["default"])) if "default" in body else "required"
        kind = _cell(_expression(body.get("type", "any")))
        rows.append(f"| `{name}` | {_text(body.get('description'))} | {kind} | {default} |")
    return rows


def outputs_table(module: Path) -> list[str]:
    rows = ["| Name | Description |", "|------|-------------|"]
    for name, body in _blocks(module, "output"):
        rows.append(f"| `{name}` | {_text(body.get('description'))} |")
    return rows


def render(module: Path, readme: str) -> str:
    """The README with its Inputs and Outputs tables regenerated."""
    lines = readme.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        heading = _HEADING.match(lines[i])
        i += 1
        if not heading:
            continue
        while i < len(lines) and not lines[i].startswith("|") and not lines[i].startswith("#"):
            out.append(lines[i])
            i += 1
        while i < len(lines) and lines[i].startswith("|"):
            i += 1  # the old table
        out.extend(inputs_table(module) if heading.group(1) == "Inputs" else outputs_table(module))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a README is stale")
    args = parser.parse_args(argv)
    stale = 0
    for module, readme_path in MODULES.items():
        if not readme_path.exists():
            continue
        current = readme_path.read_text()
        wanted = render(module, current)
        if current == wanted:
            continue
        shown = readme_path.relative_to(REPO)
        if args.check:
            stale += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    f"{shown} (checked in)",
                    f"{shown} (from the .tf files)",
                )
            )
        else:
            readme_path.write_text(wanted)
            print(f"updated {shown}")
    if stale:
        print(
            f"\n{stale} README table(s) differ from the .tf files: run "
            "`make docs` (python scripts/module_docs.py) and commit",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
