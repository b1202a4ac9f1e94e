"""boto3 clients for the emulated AWS of the local stack, and demo tokens signed once per user."""

from __future__ import annotations

import time
from typing import Any

import boto3
import jwt
from botocore.config import Config


def client(service: str, stack: dict[str, Any], endpoint: str | None = None, **config: Any) -> Any:
    creds = stack["credentials"]
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint or stack["aws_endpoint"],
        region_name=stack["region"],
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        config=Config(**config) if config else None,
    )


class Tokens:
    """Mints tokens the deployed authorizer accepts (the claims local.tokens uses), reading the
    HS256 secret from the emulated SSM once instead of once per token."""

    def __init__(self, stack: dict[str, Any]) -> None:
        spec = stack["token"]
        if spec.get("mode") != "hs256":
            raise RuntimeError(f"the benchmark needs AUTH_MODE=hs256, not {spec.get('mode')}")
        self.spec = spec
        ssm = client("ssm", stack)
        self.secret = ssm.get_parameter(Name=spec["ssm_parameter"], WithDecryption=True)[
            "Parameter"
        ]["Value"]

    def mint(self, user_id: str, ttl_seconds: int = 7200) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
        if self.spec.get("issuer"):
            claims["iss"] = self.spec["issuer"]
        if self.spec.get("audience"):
            claims["aud"] = self.spec["audience"]
        return jwt.encode(claims, self.secret, algorithm=self.spec.get("algorithm", "HS256"))
