"""The README's cost table is what scripts/cost_model.py computes (edit the script, not the
README), and the model's figures add up."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import cost_model  # noqa: E402


def test_readme_quotes_the_computed_table() -> None:
    readme = (REPO / "README.md").read_text()
    assert cost_model.table() in readme
    assert cost_model.PRICES_DATE.split(" ")[0] in readme


def test_figures_add_up() -> None:
    users = cost_model.per_thousand_users_month()
    assert abs(users["total"] - sum(v for k, v in users.items() if k != "total")) < 1e-9
    # 1M messages alone cost $1.00: a notification costs more than its message, not 10x more.
    assert 1.0 < cost_model.per_million_notifications() < 5.0
    assert 0 < cost_model.idle_month() < 0.1
