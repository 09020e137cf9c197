"""Columnar vs row path, one core, no servers: `python services/record/benchmarks/columns.py [rows]`.

Times `domain.columns` (prepare + wanted + encode) and the row path (`build_inserts` +
`apply_uniques` + msgspec encoding, the body already built) on (a) 10 `string` fields and (b) a
mixed schema (3 strings, a unique email, a number with 10% "n/a", an ISO date, an enum, a
boolean), best of three after a warm-up, and checks both give the same records.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, datetime

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import msgspec
import polars as pl

from record_service.domain import columns
from record_service.domain import records as domain
from record_service.domain.validation import Schema, compile_schema
from spaceport.contracts.blueprint import SheetConfig

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def schemas(rows: int) -> list[tuple[str, Schema, pl.DataFrame]]:
    pick = random.Random(1)  # noqa: S311 - test data

    def words() -> list[str]:
        letters = "abcdefghijklmnopqrstuvwxyz"
        return ["".join(pick.choices(letters, k=pick.randint(4, 12))) for _ in range(rows)]

    plain = {"name": "A", "fields": [{"key": f"f{i}", "type": "string"} for i in range(10)]}
    mixed = {
        "name": "B",
        "fields": [
            {"key": "first", "type": "string"},
            {"key": "last", "type": "string"},
            {"key": "city", "type": "string"},
            {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
            {"key": "age", "type": "number"},
            {"key": "born", "type": "date"},
            {"key": "tier", "type": "enum", "config": {"options": [{"value": "gold"}, {"value": "silver"}]}},
            {"key": "active", "type": "boolean"},
        ],
    }
    frame_a = pl.DataFrame({f"f{i}": words() for i in range(10)})
    frame_b = pl.DataFrame(
        {
            "first": words(),
            "last": words(),
            "city": words(),
            "email": [f"user{n}@example.com" for n in range(rows)],
            "age": ["n/a" if pick.random() < 0.1 else str(pick.randint(1, 99)) for _ in range(rows)],
            "born": [
                f"{pick.randint(1940, 2010)}-{pick.randint(1, 12):02d}-{pick.randint(1, 28):02d}" for _ in range(rows)
            ],
            "tier": [pick.choice(["gold", "silver"]) for _ in range(rows)],
            "active": [pick.choice(["yes", "no"]) for _ in range(rows)],
        }
    )
    return [
        (
            "10 string fields",
            compile_schema(msgspec.convert(plain, SheetConfig)),
            frame_a,
        ),
        ("mixed schema", compile_schema(msgspec.convert(mixed, SheetConfig)), frame_b),
    ]


def date(pick: random.Random) -> str:
    return f"{pick.randint(1940, 2010)}-{pick.randint(1, 12):02d}-{pick.randint(1, 28):02d}"


def columnar(schema: Schema, frame: pl.DataFrame, ids: list[str]) -> tuple[list[bytes], float]:
    start = time.perf_counter()
    prepared = columns.prepare(schema, frame, NOW)
    columns.wanted(prepared)
    return columns.encode(prepared, ids, {}), time.perf_counter() - start


def row_path(schema: Schema, frame: pl.DataFrame, ids: list[str]) -> tuple[list[bytes], float]:
    body: list[dict[str, domain.CellInput]] = [
        {k: domain.InCell(value=v) for k, v in r.items()} for r in frame.iter_rows(named=True)
    ]
    start = time.perf_counter()
    built = domain.build_inserts(schema, body, NOW, ids.__getitem__)
    checked = domain.apply_uniques(schema.uniques, built, lambda _: {})
    encoder = msgspec.json.Encoder()
    return [encoder.encode(r) for r in checked], time.perf_counter() - start


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    ids = [f"us_rc_{n:08d}" for n in range(rows)]
    for label, schema, frame in schemas(rows):
        columnar(schema, frame, ids)  # warm-up
        fast = min(columnar(schema, frame, ids)[1] for _ in range(3))
        slow = min(row_path(schema, frame, ids)[1] for _ in range(3))
        same = [msgspec.json.decode(b) for b in columnar(schema, frame, ids)[0]] == [
            msgspec.json.decode(b) for b in row_path(schema, frame, ids)[0]
        ]
        rates = f"columnar {rows / fast:>10,.0f} rows/s   row path {rows / slow:>9,.0f} rows/s"
        print(f"{label:18} {rates}   same records: {same}")


if __name__ == "__main__":
    main()
