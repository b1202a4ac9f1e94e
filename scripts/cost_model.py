"""The README's cost model: AWS list prices times what each operation of this system uses.

Run ``python scripts/cost_model.py`` to print the table the README quotes (tests/tools checks that
they agree). Prices are us-east-1 on-demand list prices without the free tier; the date says when
they were taken from the AWS pricing pages. Usage per operation follows the code: a persisted push
to one user with one connection is one push invocation, one history write (<= 1 KB: 1 WRU), one
index Query (0.5 RRU, eventually consistent) and one @connections message.
"""

from __future__ import annotations

PRICES_DATE = "2025-06 (us-east-1 list prices, free tier not counted)"
PRICES = {
    "apigw_ws_message": 1.00 / 1e6,  # per message (first billion; metered in 32 KB increments)
    "apigw_ws_connection_minute": 0.25 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "ddb_write_request_unit": 0.625 / 1e6,  # on-demand, since the November 2024 price cut
    "ddb_read_request_unit": 0.125 / 1e6,
    "logs_ingest_gb": 0.50,
}

PUSH_MEMORY_GB = 0.5  # push_memory_size default (512 MB)
MEMORY_GB = 0.25  # lambda_memory_size default (256 MB)
PUSH_MS, POLL_MS, CONNECT_MS, SWEEP_MS = 40, 30, 20, 30  # warm durations, rounded up
LOG_BYTES_PER_INVOCATION = 400  # one JSON summary line plus the platform's REPORT line


def lambda_cost(invocations: float, ms: float, memory_gb: float) -> float:
    p = PRICES
    gb_seconds = invocations * ms / 1000 * memory_gb
    logs = invocations * LOG_BYTES_PER_INVOCATION / 1e9 * p["logs_ingest_gb"]
    return invocations * p["lambda_request"] + gb_seconds * p["lambda_gb_second_arm64"] + logs


def per_million_notifications() -> float:
    """1M persisted pushes, each to one user with one live connection."""
    n, p = 1e6, PRICES
    return (
        lambda_cost(n, PUSH_MS, PUSH_MEMORY_GB)
        + n * p["ddb_write_request_unit"]  # history row
        + n * 0.5 * p["ddb_read_request_unit"]  # userId-index Query
        + n * p["apigw_ws_message"]  # the @connections POST
    )


def per_thousand_users_month(hours_per_day: float = 8.0) -> dict[str, float]:
    """1000 users connected ``hours_per_day`` for 30 days with the clients in clients/: a
    reconnect every 2 hours (authorizer + connect + disconnect, one row written and deleted, a
    resume poll) and, when idle, one keepalive poll per 9 minutes (two messages: in and out)."""
    p = PRICES
    minutes = 1000 * hours_per_day * 60 * 30
    connects = 1000 * 30 * hours_per_day / 2
    polls = 1000 * 30 * hours_per_day * 60 / 9 + connects
    parts = {
        "connection minutes": minutes * p["apigw_ws_connection_minute"],
        "connects (2 h cap)": (
            3 * lambda_cost(connects, CONNECT_MS, MEMORY_GB)
            + connects * 2 * p["ddb_write_request_unit"]  # put + delete
            + connects * 2 * p["apigw_ws_message"]  # $connect and $disconnect
        ),
        "keepalive + resume polls": (
            lambda_cost(polls, POLL_MS, MEMORY_GB)
            + polls * 0.5 * p["ddb_read_request_unit"]
            + polls * 2 * p["apigw_ws_message"]
        ),
    }
    parts["total"] = sum(parts.values())
    return parts


def idle_month() -> float:
    """Nothing connected: only the token-expiry sweeper (every minute; one index Query)."""
    runs = 60 * 24 * 30
    return lambda_cost(runs, SWEEP_MS, MEMORY_GB) + runs * 0.5 * PRICES["ddb_read_request_unit"]


def table() -> str:
    users = per_thousand_users_month()
    rows = [
        "| what | USD |",
        "|------|-----|",
        f"| 1 million persisted notifications (one user, one connection each) | "
        f"{per_million_notifications():.2f} |",
        f"| 1,000 users connected 8 h a day for 30 days, idle (no notifications) | "
        f"{users['total']:.2f} |",
        f"| &nbsp;&nbsp;of which connection minutes | {users['connection minutes']:.2f} |",
        f"| &nbsp;&nbsp;of which reconnects every 2 h | {users['connects (2 h cap)']:.2f} |",
        f"| &nbsp;&nbsp;of which keepalive and resume polls | "
        f"{users['keepalive + resume polls']:.2f} |",
        f"| a month with nobody connected (the sweeper) | {idle_month():.2f} |",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    print(f"Prices: {PRICES_DATE}")
    print(table())
