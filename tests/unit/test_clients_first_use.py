"""Each client getter must work as the very first AWS call of a fresh process (a Lambda cold
start), whatever the order: a getter that fetches another shared object under the cache lock
must not deadlock. A fresh interpreter is the only honest setting: in this test process the
shared objects are already cached by other tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@pytest.mark.parametrize(
    "getter", ["ssm()", "dynamodb()", "management('http://127.0.0.1:9/prod', 4)"]
)
def test_getter_works_first_in_a_fresh_process(getter: str) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(FUNCTIONS),
    }
    code = f"from wsnotify import clients; clients.{getter}; print('ok')"
    try:
        out = subprocess.run(  # noqa: S603 - fixed command built by this test
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"clients.{getter} hung as the first call of a fresh process (deadlock)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
