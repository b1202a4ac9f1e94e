"""Zip building of the offline archive_file stand-in: determinism, excludes, modes, hashes."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from archive_provider.zipper import (
    FIXED_DATE_TIME,
    ArchiveError,
    ArchiveRequest,
    SourceContent,
    build_zip_bytes,
    glob_to_regex,
    parse_file_mode,
    write_archive,
)


def make_tree(root: Path) -> Path:
    """A small package tree like functions/: code, caches, tests, an executable script."""
    files = {
        "handler.py": "def handler(event, context):\n    return 1\n",
        "lib/__init__.py": "",
        "lib/core.py": "X = 1\n",
        "lib/__pycache__/core.cpython-311.pyc": "bytecode",
        "__pycache__/handler.cpython-311.pyc": "bytecode",
        "tests/test_core.py": "def test(): pass\n",
        "notes.txt": "keep me\n",
        "a.txt": "sorts before a/ in a full-path sort, after it in walk order\n",
        "a/b.txt": "nested\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    return root


def names(data: bytes | Path) -> list[str]:
    source = data if isinstance(data, Path) else io.BytesIO(data)
    with zipfile.ZipFile(source) as archive:
        return archive.namelist()


def dir_request(src: Path, out: Path, **kwargs: object) -> ArchiveRequest:
    return ArchiveRequest(type="zip", source_dir=str(src), output_path=str(out), **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- determinism


def test_same_inputs_give_identical_bytes_even_when_mtimes_change(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    request = dir_request(src, tmp_path / "out.zip")
    first = build_zip_bytes(request)
    for path in src.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert build_zip_bytes(request) == first
    (src / "notes.txt").write_text("changed\n")
    assert build_zip_bytes(request) != first


def test_entries_follow_walk_order_with_fixed_timestamps(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    data = build_zip_bytes(dir_request(src, tmp_path / "out.zip", excludes=("**/__pycache__",)))
    assert names(data) == [
        "a/b.txt",
        "a.txt",
        "handler.py",
        "lib/__init__.py",
        "lib/core.py",
        "notes.txt",
        "run.sh",
        "tests/test_core.py",
    ]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        for info in archive.infolist():
            assert info.date_time == FIXED_DATE_TIME
            assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.read("a/b.txt") == b"nested\n"


# ---------------------------------------------------------------------------- excludes


@pytest.mark.parametrize(
    ("excludes", "absent", "present"),
    [
        # A directory pattern drops the whole folder, at any depth with **.
        (("**/__pycache__",), ["lib/__pycache__/core.cpython-311.pyc"], ["lib/core.py"]),
        # Without **, only the top-level folder matches (the real provider's PathMatch).
        (
            ("__pycache__",),
            ["__pycache__/handler.cpython-311.pyc"],
            ["lib/__pycache__/core.cpython-311.pyc"],
        ),
        # * never crosses a separator.
        (("*.pyc",), [], ["lib/__pycache__/core.cpython-311.pyc"]),
        (("**/*.pyc",), ["lib/__pycache__/core.cpython-311.pyc"], ["lib/core.py"]),
        (("tests", "notes.txt"), ["tests/test_core.py", "notes.txt"], ["handler.py"]),
        (("lib/*.py",), ["lib/core.py", "lib/__init__.py"], ["handler.py"]),
        (("{tests,a}",), ["tests/test_core.py", "a/b.txt"], ["a.txt"]),
        (("[an]*.txt",), ["a.txt", "notes.txt"], ["a/b.txt"]),
        (("", "nothing-matches"), [], ["handler.py"]),
    ],
)
def test_excludes_match_like_the_real_provider(
    tmp_path: Path, excludes: tuple[str, ...], absent: list[str], present: list[str]
) -> None:
    src = make_tree(tmp_path / "src")
    entries = names(build_zip_bytes(dir_request(src, tmp_path / "o.zip", excludes=excludes)))
    for name in absent:
        assert name not in entries
    for name in present:
        assert name in entries


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "a.py", True),
        ("*.py", "d/a.py", False),
        ("**/*.py", "a.py", True),
        ("**/*.py", "d/e/a.py", True),
        ("d/**", "d", True),
        ("d/**", "d/e/f", True),
        ("d/**", "dx", False),
        ("**", "any/thing", True),
        ("a**b", "axxb", True),
        ("a**b", "ax/xb", False),
        ("?.py", "a.py", True),
        ("?.py", "ab.py", False),
        ("[!a]*", "b", True),
        ("[!a]*", "a", False),
        ("[a-c]", "b", True),
        ("[a-c]", "d", False),
        ("{x,y/z}", "y/z", True),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("a.b", "axb", False),
    ],
)
def test_doublestar_translation(pattern: str, path: str, expected: bool) -> None:
    assert bool(glob_to_regex(pattern).match(path)) is expected


@pytest.mark.parametrize("pattern", ["[abc", "{a,b", "trailing\\", "[]"])
def test_malformed_glob_is_a_clear_error(tmp_path: Path, pattern: str) -> None:
    src = make_tree(tmp_path / "src")
    with pytest.raises(ArchiveError, match="bad pattern"):
        build_zip_bytes(dir_request(src, tmp_path / "o.zip", excludes=(pattern,)))


def test_everything_excluded_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    out = tmp_path / "o.zip"
    with pytest.raises(ArchiveError, match="would be empty"):
        write_archive(dir_request(src, out, excludes=("**",)))
    assert not out.exists()


def test_existing_output_inside_source_dir_is_not_archived(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    out = src / "build" / "fn.zip"
    first = write_archive(dir_request(src, out))
    second = write_archive(dir_request(src, out))
    assert "build/fn.zip" not in names(out)
    assert first == second


# ---------------------------------------------------------------------------- file modes


def modes(data: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {i.filename: i.external_attr >> 16 for i in archive.infolist()}


def test_file_modes_come_from_disk_by_default(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    found = modes(build_zip_bytes(dir_request(src, tmp_path / "o.zip")))
    assert found["run.sh"] == stat.S_IFREG | 0o755
    assert found["handler.py"] == stat.S_IFREG | 0o644


def test_output_file_mode_applies_to_every_entry(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    data = build_zip_bytes(dir_request(src, tmp_path / "o.zip", output_file_mode="0444"))
    assert set(modes(data).values()) == {stat.S_IFREG | 0o444}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        # No owner write bit: Go's SetMode also flags the entry read-only for MS-DOS tools.
        assert all(i.external_attr & 0x01 for i in archive.infolist())
    # The mode is part of the bytes, so it is part of the hash.
    assert data != build_zip_bytes(dir_request(src, tmp_path / "o.zip", output_file_mode="0644"))


def test_content_entries_are_0644_unless_a_mode_is_given(tmp_path: Path) -> None:
    request = ArchiveRequest(
        type="zip",
        output_path=str(tmp_path / "o.zip"),
        source_content="{}",
        source_content_filename="config.json",
    )
    assert modes(build_zip_bytes(request)) == {"config.json": stat.S_IFREG | 0o644}
    with_mode = ArchiveRequest(**{**request.__dict__, "output_file_mode": "0755"})
    assert modes(build_zip_bytes(with_mode)) == {"config.json": stat.S_IFREG | 0o755}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0644", 0o644),
        ("0o755", 0o755),
        ("0x1a4", 0o644),
        ("420", 0o644),
        ("0", 0),
        ("0_644", 0o644),
    ],
)
def test_parse_file_mode_follows_go_base_prefixes(text: str, value: int) -> None:
    assert parse_file_mode(text) == value


@pytest.mark.parametrize("text", ["", "rw-r--r--", "-644", "+644", "0999", "0o17777", "0x"])
def test_bad_file_mode_is_a_clear_error(tmp_path: Path, text: str) -> None:
    request = ArchiveRequest(
        type="zip",
        output_path=str(tmp_path / "o.zip"),
        source_content="x",
        source_content_filename="x",
        output_file_mode=text,
    )
    with pytest.raises(ArchiveError, match="output_file_mode"):
        build_zip_bytes(request)


# ---------------------------------------------------------------------------- other sources


def test_source_file_is_stored_under_its_base_name(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    request = ArchiveRequest(
        type="zip", source_file=str(src / "run.sh"), output_path=str(tmp_path / "o.zip")
    )
    data = build_zip_bytes(request)
    assert names(data) == ["run.sh"]
    assert modes(data)["run.sh"] == stat.S_IFREG | 0o755


def test_source_blocks_are_sorted_and_order_independent(tmp_path: Path) -> None:
    blocks = (SourceContent("z.txt", "last"), SourceContent("dir/a.txt", "first"))
    out = str(tmp_path / "o.zip")
    forward = build_zip_bytes(ArchiveRequest(type="zip", output_path=out, sources=blocks))
    backward = build_zip_bytes(ArchiveRequest(type="zip", output_path=out, sources=blocks[::-1]))
    assert forward == backward
    assert names(forward) == ["dir/a.txt", "z.txt"]


# ---------------------------------------------------------------------------- symlinks


def test_symlinks_are_followed_or_skipped_as_asked(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "util.py").write_text("U = 1\n")
    (src / "shared").symlink_to(outside, target_is_directory=True)
    (src / "alias.py").symlink_to(src / "handler.py")
    out = tmp_path / "o.zip"

    followed = build_zip_bytes(dir_request(src, out))
    assert "shared/util.py" in names(followed)
    with zipfile.ZipFile(io.BytesIO(followed)) as archive:
        assert archive.read("alias.py") == (src / "handler.py").read_bytes()

    skipped = names(build_zip_bytes(dir_request(src, out, exclude_symlink_directories=True)))
    assert "shared/util.py" not in skipped
    assert "alias.py" in skipped


def test_symlink_cycle_and_broken_link_are_errors(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    (src / "lib" / "loop").symlink_to(src, target_is_directory=True)
    with pytest.raises(ArchiveError, match="symlink cycle"):
        build_zip_bytes(dir_request(src, tmp_path / "o.zip"))
    (src / "lib" / "loop").unlink()
    (src / "dangling").symlink_to(tmp_path / "missing")
    with pytest.raises(ArchiveError, match="symlink"):
        build_zip_bytes(dir_request(src, tmp_path / "o.zip"))


# ---------------------------------------------------------------------------- outputs


def test_outputs_equal_hashlib_over_the_written_file(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    out = tmp_path / "nested" / "dir" / "fn.zip"  # parents are created
    result = write_archive(dir_request(src, out, output_file_mode="0644"))
    data = out.read_bytes()
    assert result.output_path == str(out)
    assert result.output_size == len(data) == out.stat().st_size
    assert result.output_md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert result.output_sha == hashlib.sha1(data, usedforsecurity=False).hexdigest()
    assert result.id == result.output_sha
    assert result.output_sha256 == hashlib.sha256(data).hexdigest()
    assert result.output_base64sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert result.output_sha512 == hashlib.sha512(data).hexdigest()
    assert result.output_base64sha512 == base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_unchanged_output_is_not_rewritten(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    out = tmp_path / "fn.zip"
    write_archive(dir_request(src, out))
    os.utime(out, (1_000_000_000, 1_000_000_000))
    before = out.stat()
    write_archive(dir_request(src, out))
    after = out.stat()
    assert (after.st_ino, after.st_mtime) == (before.st_ino, before.st_mtime)
    (src / "notes.txt").write_text("new\n")
    write_archive(dir_request(src, out))
    assert out.stat().st_mtime != before.st_mtime
    assert list(tmp_path.glob(".fn.zip.*")) == []  # no temp file left behind


# ---------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"type": "tar.gz"}, "archive type not supported"),
        ({"output_path": ""}, "output_path"),
        ({}, "exactly one of"),
        ({"source_dir": "SRC", "source_file": "SRC/handler.py"}, "exactly one of"),
        ({"source_content": "x", "sources": (SourceContent("a", "b"),)}, "exactly one of"),
        ({"source_content": "x"}, "must be set together"),
        ({"source_content_filename": "x"}, "must be set together"),
        ({"source_file": "SRC/handler.py", "excludes": ("x",)}, "excludes only applies"),
        ({"sources": (SourceContent("a", "1"), SourceContent("a", "2"))}, "repeat a filename"),
        ({"sources": (SourceContent("../evil", "1"),)}, "invalid filename"),
        ({"source_content": "x", "source_content_filename": "/abs"}, "invalid filename"),
        ({"source_dir": "SRC/missing"}, "missing directory"),
        ({"source_dir": "SRC/handler.py"}, "is a file"),
        ({"source_file": "SRC/missing.py"}, "missing file"),
        ({"source_file": "SRC/lib"}, "directory as a file"),
    ],
)
def test_bad_arguments_are_clear_errors_and_write_nothing(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    src = make_tree(tmp_path / "src")
    fields: dict[str, object] = {"type": "zip", "output_path": str(tmp_path / "o.zip")}
    for key, value in overrides.items():
        fields[key] = value.replace("SRC", str(src)) if isinstance(value, str) else value
    with pytest.raises(ArchiveError, match=message):
        write_archive(ArchiveRequest(**fields))  # type: ignore[arg-type]
    assert not (tmp_path / "o.zip").exists()
