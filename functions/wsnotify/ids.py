"""ULID notification ids: 26 Crockford base32 characters, time-ordered, sortable as text."""

from __future__ import annotations

import re
import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ULID_RE = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_ulid(now_ms: int | None = None) -> str:
    """A new ULID; ids made in the same millisecond by this process still sort in creation order."""
    global _last_ms, _last_random
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last_ms:
            # Monotonic within a process: same (or earlier, clock step back) ms -> increment.
            ms = _last_ms
            rand = _last_random + 1
            if rand >= 1 << 80:
                ms += 1
                rand = secrets.randbits(79)
        else:
            rand = secrets.randbits(79)  # top bit clear leaves room to increment
        _last_ms, _last_random = ms, rand
    return _encode(ms, 10) + _encode(rand, 16)


def is_ulid(value: object) -> bool:
    return isinstance(value, str) and _ULID_RE.fullmatch(value) is not None


def time_ms(ulid: str) -> int:
    """The creation time (epoch ms) a ULID carries in its first 10 characters."""
    value = 0
    for char in ulid[:10]:
        value = value * 32 + _ALPHABET.index(char)
    return value


def lowest_at(ms: int) -> str:
    """The smallest ULID of a millisecond: every id created at or after `ms` sorts at or above."""
    return _encode(max(ms, 0), 10) + "0" * 16
