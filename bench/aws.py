"""boto3 clients for the emulated AWS of the local stack (tokens: local.tokens.Minter)."""

from __future__ import annotations

from typing import Any

import boto3
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
