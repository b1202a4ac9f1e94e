"""Every README/docs block marked ``<!-- snippet: local [expect=TEXT] -->`` runs as printed against
the local stack: from a directory laid out like the repository root (``.venv``, ``local``,
``clients`` and ``.local/stack.json`` pointing at the session stack's), shell blocks with bash,
Python blocks with the project's interpreter. Shell blocks get ``{"action": "poll"}`` on stdin
(what the README tells the reader to type), then end-of-file."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

MARK = re.compile(
    r"<!-- snippet: local(?: expect=(?P<expect>.*?))? -->\n```(?P<lang>\w+)\n(?P<code>.*?)```",
    re.DOTALL,
)
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _snippets() -> list[tuple[str, str, str, str | None]]:
    found = []
    for doc in DOCS:
        for n, match in enumerate(MARK.finditer(doc.read_text()), 1):
            found.append((f"{doc.name}#{n}", match["lang"], match["code"], match["expect"] or None))
    return found


SNIPPETS = _snippets()


def test_the_docs_mark_their_local_snippets() -> None:
    langs = {lang for _, lang, _, _ in SNIPPETS}
    assert len(SNIPPETS) >= 3 and langs == {"sh", "python"}, SNIPPETS


@pytest.fixture
def root(stack: dict[str, Any], tmp_path: Path) -> Path:
    for name in (".venv", "local", "clients"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "stack.json").symlink_to(REPO / ".local" / "e2e" / "stack.json")
    return tmp_path


@pytest.mark.parametrize(("name", "lang", "code", "expect"), SNIPPETS, ids=[s[0] for s in SNIPPETS])
def test_snippet_runs_as_printed(
    root: Path, name: str, lang: str, code: str, expect: str | None
) -> None:
    command = ["/bin/bash", "-euo", "pipefail", "-c", code]
    if lang == "python":
        command = [str(root / ".venv" / "bin" / "python"), "-c", code]
    proc = subprocess.Popen(  # noqa: S603 - the repository's own documentation
        command,
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # `python -m local token` finds the session stack, not a developer's running one.
        env={"PATH": "/usr/bin:/bin", "LOCAL_STACK_FILE": str(root / ".local" / "stack.json")},
    )
    assert proc.stdin is not None and proc.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
    reader.start()
    if lang == "sh":
        proc.stdin.write('{"action": "poll"}\n')
        proc.stdin.flush()
        # The interactive client prints the answer; end-of-file (Ctrl-D) then ends it.
        deadline = time.monotonic() + 20
        while expect and expect not in "".join(lines) and time.monotonic() < deadline:
            time.sleep(0.1)
    proc.stdin.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
    reader.join(10)
    out = "".join(lines)
    assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{out}"
    if expect:
        assert expect in out, f"{name}: {expect!r} not in:\n{out}"
