"""Client for the notify.v1 WebSocket protocol (docs/protocol.md, docs/clients.md)."""

from notify_client.client import SUBPROTOCOL, NotifyClient, State
from notify_client.support import NotifyError, backoff_delay, token_expiry

__all__ = ["SUBPROTOCOL", "NotifyClient", "NotifyError", "State", "backoff_delay", "token_expiry"]
__version__ = "0.1.0"
