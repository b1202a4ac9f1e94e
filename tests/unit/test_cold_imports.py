"""What each latency-sensitive handler loads at import, in a fresh interpreter (a Lambda cold
start): only the code its common request needs. The feature code (topics, segments, jobs,
mobile push, scheduling, client push, revocation) is imported by the request that uses it, and
an import that creeps back onto a cold path fails here (docs/benchmarks.md, "Cold start")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
FEATURE_MODULES = {
    "wsnotify.topics",
    "wsnotify.subscriptions",
    "wsnotify.segments",
    "wsnotify.profiles",
    "wsnotify.jobs",
    "wsnotify.jobstore",
    "wsnotify.mobile",
    "wsnotify.devices",
    "wsnotify.schedules",
    "wsnotify.client_push",
    "wsnotify.revoke",
}


def loaded_at_import(handler: str) -> set[str]:
    code = (
        f"import json, sys; sys.path.insert(0, {str(FUNCTIONS)!r}); import {handler}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('wsnotify'))))"
    )
    out = subprocess.run(  # noqa: S603 - fixed command built by this test
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("handler", ["connect", "disconnect", "poll", "push", "authorizer"])
def test_cold_paths_do_not_import_feature_code(handler: str) -> None:
    loaded = loaded_at_import(handler)
    assert "wsnotify.config" in loaded  # the probe sees the package at all
    assert not loaded & FEATURE_MODULES, sorted(loaded & FEATURE_MODULES)


def test_the_authorizer_passes_claims_on_without_the_feature_code() -> None:
    """The default deployment sets TOPICS_CLAIM, so every $connect passes the topics claim on:
    that path must not import the topic or client-push modules either (the token check itself
    is stubbed: this is about imports, tests/unit/test_topics.py covers the context)."""
    code = f"""
import json, sys
sys.path.insert(0, {str(FUNCTIONS)!r})
import authorizer
from wsnotify import auth
claims = {{"sub": "alice", "topics": ["news:*"], "push": ["bob"]}}
auth.verify = lambda cfg, token: auth.Identity("alice", 2000000000, claims)
event = {{"type": "REQUEST", "methodArn": "arn:aws:execute-api:eu-west-1:1:a/prod/$connect",
          "queryStringParameters": {{"token": "t"}}, "headers": {{}}, "requestContext": {{}}}}
out = authorizer.handler(event, None)
print(json.dumps([out["context"], sorted(m for m in sys.modules if m.startswith("wsnotify"))]))
"""
    env = {"TOPICS_CLAIM": "topics", "CLIENT_PUSH_CLAIM": "push", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(  # noqa: S603 - fixed command built by this test
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 0, out.stderr
    context, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert context["topicPatterns"] == '["news:*"]' and context["pushRecipients"] == '["bob"]'
    assert not set(loaded) & FEATURE_MODULES, sorted(set(loaded) & FEATURE_MODULES)
