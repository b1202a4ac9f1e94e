"""Shared code of the WebSocket notification functions (handlers are thin adapters over it)."""
