"""Deterministic zip building with the semantics of hashicorp/archive's ``archive_file``.

OFFLINE TESTING ONLY. This module backs the stand-in provider that ``scripts/tf-env.sh`` installs
when the Terraform registry is unreachable. The Terraform module always requires the real
``hashicorp/archive`` provider; nothing here ships to users.

Semantics followed (terraform-provider-archive 2.5+):

* ``source_dir``: walked in lexical order per directory (like Go's ``filepath.Walk``); only files
  become entries, named by their path relative to ``source_dir`` with ``/`` separators.
  ``excludes`` are doublestar globs matched against that relative path: ``*`` and ``?`` stay
  within one path segment, ``**`` as a whole segment spans any number of directories, ``[...]``
  and ``{a,b}`` work. A matching directory is skipped with everything under it. Symlinked files
  are archived with their target's content and mode; symlinked directories are walked under the
  link's name unless ``exclude_symlink_directories`` is set. An archive that would be empty is an
  error.
* ``source_file``: one entry named by the file's base name, with the file's mode.
* ``source_content`` + ``source_content_filename`` and ``source`` blocks: mode 0644 (Go stores
  no mode; see ``_CONTENT_MODE``), ``source`` entries sorted by filename.
* ``output_file_mode`` (a Go ``strconv.ParseUint(s, 0, 32)`` string: ``"0644"`` is octal) replaces
  the mode of every entry.

Deliberate differences: every entry is stamped 1980-01-01 00:00 (the earliest zip date; Go writes
the zero time), so zips are byte-identical across runs but not to the real provider's; duplicate
``source`` filenames and symlink cycles are errors instead of silent surprises; an existing
``output_path`` inside ``source_dir`` is never archived into itself; the output is written
atomically and left untouched when its bytes would not change.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import stat
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Earliest timestamp the zip format can store: a fixed stamp makes the bytes reproducible.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# MS-DOS attribute bit Go's zip.FileHeader.SetMode adds when the owner cannot write.
_MSDOS_READ_ONLY = 0x01
_UNIX_CREATOR = 3
# Go stores content entries with no mode at all (unzip then applies the umask, usually giving
# 0644). Python's zipfile cannot store "no mode" (it writes 0600, unreadable to Lambda's runtime
# user), so content entries get the 0644 that real extractions end up with.
_CONTENT_MODE = 0o644


class ArchiveError(ValueError):
    """Bad arguments or unreadable sources: the message is shown to the Terraform user."""


@dataclass(frozen=True)
class SourceContent:
    """One ``source { content, filename }`` block."""

    filename: str
    content: str


@dataclass(frozen=True)
class ArchiveRequest:
    """The arguments of an ``archive_file`` data source (see the real provider's docs)."""

    type: str
    output_path: str
    source_dir: str | None = None
    source_file: str | None = None
    source_content: str | None = None
    source_content_filename: str | None = None
    sources: Sequence[SourceContent] = field(default_factory=tuple)
    excludes: Sequence[str] = field(default_factory=tuple)
    exclude_symlink_directories: bool = False
    output_file_mode: str | None = None


@dataclass(frozen=True)
class ArchiveResult:
    """The computed attributes, each over the bytes written to ``output_path``."""

    output_path: str
    output_size: int
    output_md5: str
    output_sha: str
    output_sha256: str
    output_base64sha256: str
    output_sha512: str
    output_base64sha512: str

    @property
    def id(self) -> str:
        # The real data source uses the SHA-1 of the output as its id.
        return self.output_sha


def parse_file_mode(text: str) -> int:
    """Parse ``output_file_mode`` like Go's ``strconv.ParseUint(text, 0, 32)``."""
    digits = text.replace("_", "")
    lowered = digits.lower()
    try:
        if lowered.startswith("0x"):
            value = int(digits[2:], 16)
        elif lowered.startswith("0o"):
            value = int(digits[2:], 8)
        elif lowered.startswith("0b"):
            value = int(digits[2:], 2)
        elif len(digits) > 1 and digits.startswith("0"):
            value = int(digits[1:], 8)
        else:
            value = int(digits, 10)
    except ValueError:
        value = -1
    # Go refuses signs and anything outside uint32; a zip entry only holds permission bits.
    if value < 0 or not digits[:1].isdigit() or value > 0o7777:
        raise ArchiveError(
            f"error parsing output_file_mode value: {text!r} (expected an octal mode such as "
            '"0644" or "0755")'
        )
    return value


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a doublestar (bmatcuk/doublestar v4 ``PathMatch``) pattern to a full-match regex."""
    regex = _translate(pattern, 0, top_level=True)[0]
    return re.compile(f"(?s:{regex})\\Z")


def _translate(pattern: str, pos: int, *, top_level: bool) -> tuple[str, int]:
    """Translate from ``pos`` up to the end, or (inside braces) up to ``,`` or ``}``."""
    out: list[str] = []
    n = len(pattern)
    while pos < n:
        char = pattern[pos]
        if not top_level and char in ",}":
            return "".join(out), pos
        if char == "*":
            if pattern.startswith("**", pos):
                starts_segment = pos == 0 or pattern[pos - 1] == "/"
                end = pos + 2
                if starts_segment and end == n:
                    # "a/**" also matches "a" itself, "**" matches everything.
                    if out and out[-1] == "/":
                        out[-1] = "(?:/.*)?"
                    else:
                        out.append(".*")
                    pos = end
                    continue
                if starts_segment and pattern.startswith("/", end):
                    out.append("(?:.*/)?")  # zero or more whole directories
                    pos = end + 1
                    continue
                # "**" inside a segment is just a "*".
                pos = end
            else:
                pos += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
            pos += 1
        elif char == "[":
            cls, pos = _translate_class(pattern, pos)
            out.append(cls)
        elif char == "{":
            alternatives: list[str] = []
            pos += 1
            while True:
                alt, pos = _translate(pattern, pos, top_level=False)
                alternatives.append(alt)
                if pos >= n:
                    raise ArchiveError(f"error checking excludes matches: bad pattern {pattern!r}")
                if pattern[pos] == "}":
                    pos += 1
                    break
                pos += 1  # the ","
            out.append("(?:" + "|".join(alternatives) + ")")
        elif char == "\\":
            if pos + 1 >= n:
                raise ArchiveError(f"error checking excludes matches: bad pattern {pattern!r}")
            out.append(re.escape(pattern[pos + 1]))
            pos += 2
        else:
            out.append("/" if char == "/" else re.escape(char))
            pos += 1
    if not top_level:
        raise ArchiveError(f"error checking excludes matches: bad pattern {pattern!r}")
    return "".join(out), pos


def _translate_class(pattern: str, pos: int) -> tuple[str, int]:
    """Translate ``[...]`` at ``pos``; a ``]`` right after ``[`` (or ``[!``) is a member."""
    bad = ArchiveError(f"error checking excludes matches: bad pattern {pattern!r}")
    pos += 1
    negate = pos < len(pattern) and pattern[pos] in "!^"
    if negate:
        pos += 1
    members: list[tuple[str, bool]] = []  # (character, was escaped)
    while True:
        if pos >= len(pattern):
            raise bad
        char, escaped = pattern[pos], False
        if char == "]" and members:
            pos += 1
            break
        if char == "\\":
            pos += 1
            if pos >= len(pattern):
                raise bad
            char, escaped = pattern[pos], True
        members.append((char, escaped))
        pos += 1
    last = len(members) - 1
    body = "".join(
        "-" if char == "-" and not escaped and 0 < i < last else re.escape(char)
        for i, (char, escaped) in enumerate(members)
    )
    # A class never matches the separator, negated or not: it stays within one segment.
    return (f"(?!/)[^{body}]" if negate else f"(?!/)[{body}]"), pos


def _excluder(excludes: Sequence[str]) -> list[re.Pattern[str]]:
    return [glob_to_regex(p) for p in excludes if p != ""]


def _is_excluded(rel: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    return any(p.match(rel) for p in patterns)


@dataclass(frozen=True)
class _Entry:
    name: str
    data: bytes
    mode: int  # permission bits


def _walk_dir(
    root: Path,
    prefix: str,
    patterns: Sequence[re.Pattern[str]],
    exclude_symlink_dirs: bool,
    skip: Path | None,
    active: frozenset[Path],
) -> Iterator[_Entry]:
    """Yield the file entries under ``root`` named ``prefix/<relative path>``."""
    try:
        names = sorted(os.listdir(root))
    except OSError as exc:
        raise ArchiveError(f"error encountered during file walk: {exc}") from exc
    for name in names:
        path = root / name
        rel = f"{prefix}/{name}" if prefix else name
        if _is_excluded(rel, patterns):
            continue
        try:
            lstat = path.lstat()
        except OSError as exc:
            raise ArchiveError(f"error encountered during file walk: {exc}") from exc
        if stat.S_ISLNK(lstat.st_mode):
            try:
                real = path.resolve(strict=True)
                target = real.stat()
            except (OSError, RuntimeError) as exc:
                raise ArchiveError(f"error reading symlink {path}: {exc}") from exc
            if stat.S_ISDIR(target.st_mode):
                if exclude_symlink_dirs:
                    continue
                if real in active:
                    raise ArchiveError(f"symlink cycle: {path} points back to {real}")
                yield from _walk_dir(
                    real, rel, patterns, exclude_symlink_dirs, skip, active | {real}
                )
                continue
            lstat = target
            path = real
        if stat.S_ISDIR(lstat.st_mode):
            yield from _walk_dir(
                path, rel, patterns, exclude_symlink_dirs, skip, active | {path.resolve()}
            )
            continue
        if not stat.S_ISREG(lstat.st_mode):
            continue  # sockets, fifos, devices: not archivable content
        if skip is not None and path.resolve() == skip:
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArchiveError(f"error reading file for archival: {exc}") from exc
        yield _Entry(rel, data, stat.S_IMODE(lstat.st_mode))


def _collect(request: ArchiveRequest) -> list[_Entry]:
    if request.source_dir is not None:
        root = Path(request.source_dir)
        if not root.exists():
            raise ArchiveError(f"could not archive missing directory: {request.source_dir}")
        if not root.is_dir():
            raise ArchiveError(f"could not archive directory that is a file: {request.source_dir}")
        output = Path(request.output_path).resolve()
        entries = list(
            _walk_dir(
                root,
                "",
                _excluder(request.excludes),
                request.exclude_symlink_directories,
                output,
                frozenset({root.resolve()}),
            )
        )
        if not entries:
            raise ArchiveError("archive has not been created as it would be empty")
        return entries
    if request.source_file is not None:
        path = Path(request.source_file)
        if not path.exists():
            raise ArchiveError(f"could not archive missing file: {request.source_file}")
        if not path.is_file():
            raise ArchiveError(f"could not archive a directory as a file: {request.source_file}")
        try:
            data = path.read_bytes()
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as exc:
            raise ArchiveError(f"error reading file for archival: {exc}") from exc
        return [_Entry(path.name, data, mode)]
    if request.source_content_filename is not None:
        assert request.source_content is not None  # checked by validate()
        return [
            _Entry(request.source_content_filename, request.source_content.encode(), _CONTENT_MODE)
        ]
    return [
        _Entry(s.filename, s.content.encode(), _CONTENT_MODE)
        for s in sorted(request.sources, key=lambda s: s.filename)
    ]


def validate(request: ArchiveRequest) -> None:
    """Raise ArchiveError when the arguments cannot describe one archive."""
    if request.type != "zip":
        raise ArchiveError(
            f'archive type not supported: {request.type!r} (the offline stand-in builds "zip" only)'
        )
    if not request.output_path:
        raise ArchiveError("output_path must not be empty")
    given = [
        name
        for name, present in (
            ("source_dir", request.source_dir is not None),
            ("source_file", request.source_file is not None),
            (
                "source_content",
                request.source_content is not None or request.source_content_filename is not None,
            ),
            ("source", bool(request.sources)),
        )
        if present
    ]
    if len(given) != 1:
        raise ArchiveError(
            "exactly one of source, source_content_filename (with source_content), source_file "
            f"or source_dir must be specified (got: {', '.join(given) or 'none'})"
        )
    if (request.source_content is None) != (request.source_content_filename is None):
        raise ArchiveError("source_content and source_content_filename must be set together")
    if request.excludes and (request.source_file is not None or given == ["source_content"]):
        raise ArchiveError("excludes only applies to source_dir")
    names = [s.filename for s in request.sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ArchiveError(f"source blocks repeat a filename: {', '.join(duplicates)}")
    entry_names = [*names]
    if request.source_content_filename is not None:
        entry_names.append(request.source_content_filename)
    for name in entry_names:
        # Empty, absolute or parent-relative names would extract outside the target folder.
        if not name or name.startswith("/") or ".." in name.split("/"):
            raise ArchiveError(f"invalid filename in the archive: {name!r}")
    if request.output_file_mode is not None:
        parse_file_mode(request.output_file_mode)
    for pattern in request.excludes:
        glob_to_regex(pattern)


def build_zip_bytes(request: ArchiveRequest) -> bytes:
    """Build the archive in memory: same request and same source bytes give the same zip."""
    validate(request)
    forced_mode = (
        parse_file_mode(request.output_file_mode) if request.output_file_mode is not None else None
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry in _collect(request):
            info = zipfile.ZipInfo(entry.name, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = _UNIX_CREATOR
            mode = forced_mode if forced_mode is not None else entry.mode
            info.external_attr = (stat.S_IFREG | mode) << 16
            if not mode & stat.S_IWUSR:
                info.external_attr |= _MSDOS_READ_ONLY
            archive.writestr(info, entry.data)
    return buffer.getvalue()


def checksums(path: str, data: bytes) -> ArchiveResult:
    sha256 = hashlib.sha256(data).digest()
    sha512 = hashlib.sha512(data).digest()
    return ArchiveResult(
        output_path=path,
        output_size=len(data),
        output_md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        output_sha=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        output_sha256=sha256.hex(),
        output_base64sha256=base64.b64encode(sha256).decode(),
        output_sha512=sha512.hex(),
        output_base64sha512=base64.b64encode(sha512).decode(),
    )


def write_archive(request: ArchiveRequest) -> ArchiveResult:
    """Build the zip, write it to ``output_path`` (creating its folder) and hash the result."""
    data = build_zip_bytes(request)
    out = Path(request.output_path)
    try:
        out.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        # Leave an identical file alone (no mtime churn); otherwise replace it atomically so a
        # reader never sees a half-written zip.
        if not (out.is_file() and out.read_bytes() == data):
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            try:
                tmp.write_bytes(data)
                os.replace(tmp, out)
            finally:
                tmp.unlink(missing_ok=True)
        written = out.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"error writing {request.output_path}: {exc}") from exc
    return checksums(request.output_path, written)
