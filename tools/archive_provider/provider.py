"""The ``archive_file`` data source served over the Terraform plugin protocol (package ``tf``).

OFFLINE TESTING ONLY: a stand-in for ``hashicorp/archive`` that ``scripts/tf-env.sh`` installs
into a generated filesystem mirror when the registry is unreachable. The Terraform module always
requires the real ``hashicorp/archive``. Only the data source exists here (the deprecated
``archive_file`` resource does not); only ``type = "zip"`` is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tf import runner, schema, types  # type: ignore[import-untyped]
from tf.iface import DataSource, Provider, ReadDataContext  # type: ignore[import-untyped]
from tf.types import Unknown  # type: ignore[import-untyped]
from tf.utils import Diagnostics  # type: ignore[import-untyped]

from archive_provider.zipper import (
    ArchiveError,
    ArchiveRequest,
    SourceContent,
    validate,
    write_archive,
)

_ONE_OF = (
    "One and only one of `source`, `source_content_filename` (with `source_content`), "
    "`source_file`, or `source_dir` must be specified."
)

_COMPUTED = {
    "id": "The sha1 checksum hash of the output.",
    "output_size": "The byte size of the output archive file.",
    "output_md5": "MD5 of output file",
    "output_sha": "SHA1 checksum of output file",
    "output_sha256": "SHA256 checksum of output file",
    "output_base64sha256": "Base64 Encoded SHA256 checksum of output file",
    "output_sha512": "SHA512 checksum of output file",
    "output_base64sha512": "Base64 Encoded SHA512 checksum of output file",
}


def _has_unknown(value: Any) -> bool:
    if value is Unknown:
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def request_from_config(config: Mapping[str, Any]) -> ArchiveRequest:
    """Map the data source configuration (nulls as None) onto an ArchiveRequest."""
    blocks = config.get("source") or []
    return ArchiveRequest(
        type=config.get("type") or "",
        output_path=config.get("output_path") or "",
        source_dir=config.get("source_dir"),
        source_file=config.get("source_file"),
        source_content=config.get("source_content"),
        source_content_filename=config.get("source_content_filename"),
        sources=tuple(SourceContent(b["filename"], b["content"]) for b in blocks),
        excludes=tuple(config.get("excludes") or ()),
        exclude_symlink_directories=bool(config.get("exclude_symlink_directories")),
        output_file_mode=config.get("output_file_mode"),
    )


class ArchiveFileDataSource(DataSource):  # type: ignore[misc]
    """``data "archive_file"``: builds a deterministic zip and reports its size and hashes."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "file"

    @classmethod
    def get_schema(cls) -> Any:
        string, optional = types.String(), {"optional": True}
        return schema.Schema(
            description="Generates an archive from content, a file, or directory of files. "
            "OFFLINE TESTING STAND-IN for hashicorp/archive.",
            attributes=[
                schema.Attribute("type", string, required=True, description="`zip` only."),
                schema.Attribute("output_path", string, required=True),
                schema.Attribute("source_content", string, description=_ONE_OF, **optional),
                schema.Attribute(
                    "source_content_filename", string, description=_ONE_OF, **optional
                ),
                schema.Attribute("source_file", string, description=_ONE_OF, **optional),
                schema.Attribute("source_dir", string, description=_ONE_OF, **optional),
                schema.Attribute("excludes", types.Set(types.String()), **optional),
                schema.Attribute("exclude_symlink_directories", types.Bool(), **optional),
                schema.Attribute("output_file_mode", string, **optional),
                *(
                    schema.Attribute(
                        name,
                        types.Number() if name == "output_size" else string,
                        computed=True,
                        description=text,
                    )
                    for name, text in _COMPUTED.items()
                ),
            ],
            block_types=[
                schema.NestedBlock(
                    "source",
                    schema.NestMode.Set,
                    schema.Block(
                        attributes=[
                            schema.Attribute("content", string, required=True),
                            schema.Attribute("filename", string, required=True),
                        ]
                    ),
                )
            ],
        )

    def validate(self, diags: Diagnostics, type_name: str, config: dict[str, Any]) -> None:
        super().validate(diags, type_name, config)
        # Unknown values (known only at apply) cannot be judged yet; Terraform validates again.
        if diags.has_errors() or _has_unknown(config):
            return
        try:
            validate(request_from_config(config))
        except ArchiveError as exc:
            diags.add_error("Invalid archive_file configuration", str(exc))

    def read(self, ctx: ReadDataContext, config: dict[str, Any]) -> dict[str, Any] | None:
        try:
            result = write_archive(request_from_config(config))
        except ArchiveError as exc:
            ctx.diagnostics.add_error("Archive creation error", f"error creating archive: {exc}")
            return None
        state = {k: config.get(k) for k in config if k not in _COMPUTED}
        state["source"] = config.get("source") or []
        state.update(
            id=result.id,
            output_size=result.output_size,
            output_md5=result.output_md5,
            output_sha=result.output_sha,
            output_sha256=result.output_sha256,
            output_base64sha256=result.output_base64sha256,
            output_sha512=result.output_sha512,
            output_base64sha512=result.output_base64sha512,
        )
        return state


class ArchiveProvider(Provider):  # type: ignore[misc]
    """``registry.terraform.io/hashicorp/archive``, offline stand-in: no provider arguments."""

    def get_model_prefix(self) -> str:
        return "archive_"

    def full_name(self) -> str:
        return "registry.terraform.io/hashicorp/archive"

    def get_provider_schema(self, diags: Diagnostics) -> Any:
        return schema.Schema()

    def validate_config(self, diags: Diagnostics, config: dict[str, Any]) -> None:
        return None

    def configure_provider(self, diags: Diagnostics, config: dict[str, Any]) -> None:
        return None

    def get_data_sources(self) -> list[type[DataSource]]:
        return [ArchiveFileDataSource]

    def get_resources(self) -> list[type[Any]]:
        return []


def main() -> None:
    runner.run_provider(ArchiveProvider())
