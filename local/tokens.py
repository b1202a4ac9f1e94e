"""Demo tokens: signed with the HS256 secret the deployed authorizer reads from (emulated) SSM."""

from __future__ import annotations

import time
from typing import Any

import jwt

from local.controlplane import aws_client


class Minter:
    """Mints tokens the deployed authorizer accepts (claims per stack.json's ``token``), reading
    the secret from the emulated SSM once, however many tokens follow."""

    def __init__(self, stack: dict[str, Any]) -> None:
        spec = stack["token"]
        if spec.get("mode") != "hs256" or not spec.get("ssm_parameter"):
            raise ValueError(
                f"the deployed API's authorizer mode is {spec.get('mode')!r}: local tokens can "
                "only be minted for this project's hs256 authorizer (secret in SSM)"
            )
        self.spec = spec
        ssm = aws_client("ssm", stack["aws_endpoint"], stack["region"])
        parameter = ssm.get_parameter(Name=spec["ssm_parameter"], WithDecryption=True)
        self.secret: str = parameter["Parameter"]["Value"]

    def mint(
        self, user_id: str, ttl_seconds: int = 3600, extra: dict[str, Any] | None = None
    ) -> str:
        """`extra`: more claims (e.g. the topics claim: `{"topics": ["vip:*"]}`)."""
        if not user_id or len(user_id) > 128:
            raise ValueError("a user id is 1..128 characters")
        now = int(time.time())
        claims: dict[str, Any] = {**(extra or {}), "sub": user_id, "iat": now}
        claims["exp"] = now + ttl_seconds
        if self.spec.get("issuer"):
            claims["iss"] = self.spec["issuer"]
        if self.spec.get("audience"):
            claims["aud"] = self.spec["audience"]
        return jwt.encode(claims, self.secret, algorithm=self.spec.get("algorithm", "HS256"))


def mint(
    stack: dict[str, Any],
    user_id: str,
    ttl_seconds: int = 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    """One token for ``user_id`` (for many, keep a Minter)."""
    return Minter(stack).mint(user_id, ttl_seconds, extra)
