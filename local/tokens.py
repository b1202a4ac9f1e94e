"""Demo tokens: signed with the HS256 secret the deployed authorizer reads from (emulated) SSM."""

from __future__ import annotations

import time
from typing import Any

import jwt

from local.controlplane import aws_client


def mint(stack: dict[str, Any], user_id: str, ttl_seconds: int = 3600) -> str:
    """A JWT the authorizer accepts for ``user_id`` (claims per stack.json's ``token``)."""
    spec = stack["token"]
    if spec.get("mode") != "hs256":
        raise ValueError(
            f"the deployed authorizer uses AUTH_MODE={spec.get('mode')}: "
            "local tokens can only be minted for hs256"
        )
    if not user_id or len(user_id) > 128:
        raise ValueError("a user id is 1..128 characters")
    ssm = aws_client("ssm", stack["aws_endpoint"], stack["region"])
    secret = ssm.get_parameter(Name=spec["ssm_parameter"], WithDecryption=True)["Parameter"][
        "Value"
    ]
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if spec.get("issuer"):
        claims["iss"] = spec["issuer"]
    if spec.get("audience"):
        claims["aud"] = spec["audience"]
    return jwt.encode(claims, secret, algorithm=spec.get("algorithm", "HS256"))
