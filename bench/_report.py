"""Shared by the benchmarks: print a table with rich, write the same rows as JSON."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"


def _cell(value: Any) -> str:
    """Floats with one decimal, except scores and other fractions below 1, which need four."""
    if isinstance(value, float):
        return f"{value:.4f}" if 0 < abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def report(name: str, rows: list[dict[str, Any]], params: dict[str, Any]) -> Path:
    table = Table(title=f"{name} ({', '.join(f'{k}={v}' for k, v in params.items())})")
    for column in rows[0]:
        table.add_column(
            column, justify="right" if isinstance(rows[0][column], float | int) else "left"
        )
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": name,
                "at": datetime.now(UTC).isoformat(),
                "machine": {"python": platform.python_version(), "cpu": platform.processor()},
                "params": params,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    return out
