"""HS256 secret rotation without a 401 window: current + `previous`-labelled secret, last-good
grace when SSM fails, cache_seconds floor (docs/architecture.md, "Secret rotation")."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from conftest import SECRET, SECRET_PARAM
from test_authorizer import allow, deny, hs_token
from wsnotify import auth, clients, config
from wsnotify.errors import ConfigError

NEW_SECRET = "n3w-s3cr3t-n3w-s3cr3t-n3w-s3cr3t-0123456789"


def rotate(old_version: int = 1) -> None:
    """The documented procedure's first step: label the current version, write the new one."""
    ssm = clients.ssm()
    ssm.label_parameter_version(
        Name=SECRET_PARAM, ParameterVersion=old_version, Labels=[auth.PREVIOUS_LABEL]
    )
    ssm.put_parameter(Name=SECRET_PARAM, Value=NEW_SECRET, Type="SecureString", Overwrite=True)


def expire_cache(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    later = time.monotonic() + seconds
    monkeypatch.setattr("wsnotify.auth.time.monotonic", lambda: later)


def test_rotation_accepts_old_and_new_tokens_then_retires_the_old(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_token, new_token = hs_token(), hs_token(key=NEW_SECRET)
    assert allow(old_token)
    rotate()
    # Before the cache expires this instance still knows only the old secret: that is why
    # signers switch to the new secret only after waiting cache_seconds.
    expire_cache(monkeypatch, 301)
    assert allow(old_token)["principalId"] == "alice"
    assert allow(new_token)["principalId"] == "alice"
    clients.ssm().unlabel_parameter_version(
        Name=SECRET_PARAM, ParameterVersion=1, Labels=[auth.PREVIOUS_LABEL]
    )
    expire_cache(monkeypatch, 602)
    deny(old_token)
    assert allow(new_token)


def test_a_token_signed_with_neither_secret_is_refused_during_rotation(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rotate()
    deny(hs_token(key="x" * 40))
    deny(hs_token(key=NEW_SECRET, claims={"exp": int(time.time()) - 3600}))  # expired: no retry


def failing_ssm(error: Exception) -> Any:
    class Broken:
        def get_parameters(self, **kw: Any) -> Any:
            raise error

    return Broken()


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "GetParameters"),
        EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com"),
    ],
)
def test_ssm_failure_after_expiry_keeps_the_last_good_secret_for_the_grace_period(
    aws: Any, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    assert allow(hs_token())
    monkeypatch.setattr(clients, "ssm", lambda: failing_ssm(error))
    expire_cache(monkeypatch, 301)  # expired, inside the grace (SECRET_GRACE_SECONDS=3600)
    assert allow(hs_token())
    expire_cache(monkeypatch, 300 + 3600 + 1)  # grace over: fail closed
    deny(hs_token())


def test_grace_zero_fails_closed_at_expiry(
    aws: Any, monkeypatch: pytest.MonkeyPatch, env: pytest.MonkeyPatch
) -> None:
    env.setenv("SECRET_GRACE_SECONDS", "0")
    assert allow(hs_token())
    monkeypatch.setattr(
        clients,
        "ssm",
        lambda: failing_ssm(
            ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "Get")
        ),
    )
    expire_cache(monkeypatch, 301)
    deny(hs_token())


def test_refresh_is_retried_after_a_failure_within_the_grace(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = clients.ssm()

    class Flaky:
        def get_parameters(self, **kw: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "G")
            return real.get_parameters(**kw)

    assert allow(hs_token())
    monkeypatch.setattr(clients, "ssm", lambda: Flaky())
    expire_cache(monkeypatch, 301)
    assert allow(hs_token()) and allow(hs_token())
    assert len(calls) == 1  # the failure is not retried on every connect
    expire_cache(monkeypatch, 301 + auth._Cache._RETRY_SECONDS + 1)
    assert allow(hs_token())
    assert len(calls) == 2


def test_cache_seconds_has_a_floor_of_one(env: pytest.MonkeyPatch) -> None:
    env.setenv("SECRET_CACHE_SECONDS", "0")
    with pytest.raises(ConfigError, match="SECRET_CACHE_SECONDS must be between 1 and"):
        config.load()
    env.setenv("SECRET_CACHE_SECONDS", "1")
    assert config.load().secret_cache_seconds == 1


def test_the_current_secret_is_tried_first(aws: Any) -> None:
    rotate()
    assert auth._hs256_secrets(config.load()) == (NEW_SECRET, SECRET)
