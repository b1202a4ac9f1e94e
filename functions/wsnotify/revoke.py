"""Revocation: close every live connection of a user and forget their rows.

Minimal version for the HTTP API's ``DELETE /v1/users/{userId}/connections``; issue 8 owns this
module and replaces it at merge (same signature)."""

from __future__ import annotations

from wsnotify import clients, config, store


def revoke_connections(user_id: str) -> int:
    """Close (DeleteConnection) every connection of ``user_id``; returns how many were open."""
    cfg = config.load()
    table = cfg.require("connections_table")
    management = clients.management(cfg.require("connections_endpoint"), cfg.send_concurrency)
    closed = 0
    for connection_id in store.user_connections(table, cfg.connections_user_index, user_id):
        try:
            management.delete_connection(ConnectionId=connection_id)
            closed += 1
        except management.exceptions.GoneException:
            pass  # already gone: only the row was left
        store.delete_connection(table, connection_id)
    return closed
