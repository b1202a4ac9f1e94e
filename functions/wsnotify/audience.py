"""Who a push request reaches: the one place that turns a validated request into its audience.

Two shapes, because they are split into shards differently:
- pages of user ids (``userId``, ``userIds``; topic and segment audiences plug in here at the
  merge: ``subscriptions.subscriber_pages`` and ``segments.resolve``), cut into shards of
  SHARD_SIZE users;
- ``Broadcast``: every live connection, read by parallel Scan segments; for a job each segment
  is one shard (``TotalSegments`` = the number of shards)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from wsnotify.config import Config
from wsnotify.validation import PushRequest


@dataclass(frozen=True)
class Broadcast:
    """Every live connection of the API (parallel Scan segments of the connections table)."""


BROADCAST = Broadcast()


def resolve(config: Config, request: PushRequest) -> Iterator[list[str]] | Broadcast:
    """The audience of a validated request: pages of user ids, or BROADCAST."""
    if request.broadcast:
        return BROADCAST
    # Topic (wsnotify.subscriptions) and segment (wsnotify.segments) audiences: added at merge.
    return iter([list(request.user_ids)])


def users(pages: Iterator[list[str]]) -> list[str]:
    """Every user id of the pages, first occurrence kept (a user appears once per audience)."""
    return list(dict.fromkeys(user for page in pages for user in page))
