"""Columnar inserts: a polars frame of rows -> the same `StoredRecord`s as `records.build_inserts`
followed by `records.apply_uniques`, encoded as JSON bytes. Pure, no I/O.

The common cells are decided with polars expressions (a non-empty text in a `string` field, plain
numbers, ISO dates, boolean words, enum options spelled in ASCII); every cell the fast expressions
do not classify with certainty goes through the row path's own `coerce()`, once per distinct value
of its column, so edge cases (and their messages) are the row path's by construction. Columns of
other dtypes than text go through `coerce()` as well (per distinct value, or per cell for floats
and nested values).

Record ids are expected to be distinct (the row path keys its unique claims by record id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import polars as pl

from record_service.domain.validation import FieldRule, Schema, UniqueKey, coerce, error, is_empty
from spaceport.contracts.record import MAX_CELL_BYTES
from spaceport.errors import ValidationFailedError

__all__ = ["Prepared", "encode", "prepare", "wanted"]

_encoder = msgspec.json.Encoder()
_X = pl.col("x")
_TRUE_WORDS = ("true", "t", "yes", "y", "1", "on")
_FALSE_WORDS = ("false", "f", "no", "n", "0", "off")
_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_HASHABLE = (
    pl.String,
    pl.Boolean,
    pl.Date,
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)


@dataclass(frozen=True)
class Layout:
    """Where a frame column's decided cells are in `Prepared.cells` (column names)."""

    key: str
    value: str  # the stored value as JSON, or the raw text to put between quotes
    quoted: bool
    valid: str | None  # None: every cell is valid
    messages: str | None  # server messages as comma-joined JSON objects, "" for none; None: no messages


@dataclass(frozen=True)
class Prepared:
    """The decided cells of a frame, before unique constraints.

    `claims` holds per unique key j `w{j}`: the normalised value the row wants to claim (null: none).
    """

    schema: Schema
    height: int
    layout: tuple[Layout, ...]
    missing: tuple[str, ...]  # required fields not in the frame, schema order
    cells: pl.DataFrame
    claims: pl.DataFrame
    now_json: str


@dataclass(frozen=True)
class _Column:
    value: pl.Series
    quoted: bool
    valid: pl.Series | None
    messages: pl.Series | None
    text: pl.Series | None = None  # str(stored), for unique fields
    empty: pl.Series | None = None  # is_empty(stored), for unique fields


def _json(value: Any) -> str:
    return _encoder.encode(value).decode()


def _esc(expr: pl.Expr) -> pl.Expr:
    """A String expression as JSON: a quoted, escaped string, or `null`."""
    return pl.struct(expr.alias("a")).struct.json_encode().str.slice(5).str.head(-1)


def _messages_json(messages: Sequence[Any]) -> str | None:
    return ",".join(_json(m) for m in messages) or None


# ---- one cell through the row path ------------------------------------------------------------


Slow = tuple[str, bool, str | None, str, bool]  # value JSON, valid, messages, unique text, empty


def _slow_cell(rule: FieldRule | None, value: Any) -> Slow:
    stored, messages = coerce(rule, value) if rule is not None else (value, [])
    valid = not any(m.type == "error" for m in messages)
    text = "" if stored is None else str(stored)
    return _json(stored), valid, _messages_json(messages), text, is_empty(stored)


def _slow_frame(results: list[Slow]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "v": [r[0] for r in results],
            "ok": [r[1] for r in results],
            "m": [r[2] for r in results],
            "u": [r[3] for r in results],
            "e": [r[4] for r in results],
        },
        schema={"v": pl.String, "ok": pl.Boolean, "m": pl.String, "u": pl.String, "e": pl.Boolean},
    )


# ---- the fast expressions of a text column ----------------------------------------------------


@dataclass(frozen=True)
class _Fast:
    v: pl.Expr  # value JSON; null where the cell is not decided here
    u: pl.Expr  # unique text (str of the stored value)
    e: pl.Expr  # is_empty(stored)


_NO = pl.lit(None, dtype=pl.String)


def _fast(rule: FieldRule, unique: bool) -> _Fast:
    """Decisions for non-empty text cells: valid, no messages, exactly what coerce() gives."""
    build = _FAST.get(rule.kind)
    if build is None:
        return _Fast(_NO, _NO, pl.lit(False))  # lists and references: coerce() decides every cell
    return build(rule, unique)


def _fast_number(rule: FieldRule, unique: bool) -> _Fast:
    digits = _X.str.contains(r"^[0-9]{1,18}$")
    text = _X.str.strip_chars(" ").str.replace_all(",", "", literal=True)
    simple = _X.str.contains(r"^[ 0-9,.eE+-]+$") & text.str.contains(_NUMBER)
    number = text.cast(pl.Float64, strict=False)
    finite = number.is_not_null() & number.is_finite()
    floaty = text.str.contains(r"[.eE]")
    short = text.str.count_matches(r"[0-9]") <= 15
    as_int = number.cast(pl.Int64, strict=False).cast(pl.String)
    value = (
        pl.when(digits)
        .then(_X.cast(pl.Int64, strict=False).cast(pl.String))
        .when(simple & finite & ~floaty & short)
        .then(as_int)
    )
    if not unique:  # str(float) is Python's repr: leave floats of unique fields to coerce()
        value = value.when(simple & finite & floaty).then(number.cast(pl.String))
    return _Fast(value.otherwise(_NO), value.otherwise(_NO), pl.lit(False))


def _fast_date(rule: FieldRule, unique: bool) -> _Fast:
    iso = _X.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$") & ~_X.str.starts_with("0000")
    parsed = _X.str.to_date("%Y-%m-%d", strict=False)
    value = pl.when(iso & parsed.is_not_null()).then(pl.concat_str([pl.lit('"'), _X, pl.lit('"')]))
    return _Fast(value.otherwise(_NO), _X, pl.lit(False))


def _fast_boolean(rule: FieldRule, unique: bool) -> _Fast:
    word = pl.when(_X.str.contains(r"^ *[A-Za-z01]+ *$")).then(_X.str.strip_chars(" ").str.to_lowercase())
    words = list(_TRUE_WORDS + _FALSE_WORDS)
    value = word.replace_strict(
        words, ["true"] * len(_TRUE_WORDS) + ["false"] * len(_FALSE_WORDS), default=None, return_dtype=pl.String
    )
    text = word.replace_strict(
        words, ["True"] * len(_TRUE_WORDS) + ["False"] * len(_FALSE_WORDS), default=None, return_dtype=pl.String
    )
    return _Fast(value, text, pl.lit(False))


def _fast_enum(rule: FieldRule, unique: bool) -> _Fast:
    ascii_text = _X.str.contains(r"^[ -~]*$")
    key = pl.when(ascii_text).then(_X.str.strip_chars(" ").str.to_lowercase())
    names = list(rule.options)
    found = key.replace_strict(names, [_json(v) for v in rule.options.values()], default=None, return_dtype=pl.String)
    found_text = key.replace_strict(
        names, [str(v) for v in rule.options.values()], default=None, return_dtype=pl.String
    )
    found_empty = key.replace_strict(
        names, [is_empty(v) for v in rule.options.values()], default=None, return_dtype=pl.Boolean
    )
    if rule.allow_custom:
        return _Fast(
            pl.when(found.is_not_null()).then(found).when(ascii_text).then(_esc(_X)).otherwise(_NO),
            pl.when(found.is_not_null()).then(found_text).otherwise(_X),
            pl.when(found.is_not_null()).then(found_empty).otherwise(pl.lit(False)),
        )
    return _Fast(found, found_text, found_empty)


_FAST: dict[str, Callable[[FieldRule, bool], _Fast]] = {
    "number": _fast_number,
    "date": _fast_date,
    "boolean": _fast_boolean,
    "enum": _fast_enum,
}


# ---- one column -------------------------------------------------------------------------------


def _required_message(key: str) -> str:
    return _json(error(f"{key} is required", "required-constraint", key))


def _column(decided: pl.DataFrame, unique: bool) -> _Column:
    """Drop what every cell has alike: all valid, no messages."""
    valid = decided["ok"]
    messages = decided["m"].fill_null("")
    return _Column(
        decided["v"],
        quoted=False,
        valid=None if valid.all() else valid,
        messages=None if (messages == "").all() else messages,
        text=decided["u"] if unique else None,
        empty=decided["e"] if unique else None,
    )


def _string_column(rule: FieldRule | None, series: pl.Series, unique: bool) -> _Column:
    """A text column of a `string` field (or of an additional field): the text is the value."""
    plain = series.null_count() == 0 and not series.str.contains(r'["\\\x00-\x1f]').any()
    value = series if plain else series.to_frame("x").select(_esc(_X)).to_series()
    valid = messages = None
    empty = series.is_null() | (series == "")
    if rule is not None and rule.required and empty.any():
        valid = ~empty
        messages = pl.select(
            pl.when(empty.rename("e")).then(_lit(_required_message(rule.key))).otherwise(_lit(""))
        ).to_series()
    text = series.fill_null("") if unique else None
    return _Column(value, plain, valid, messages, text, empty if unique else None)


def _text_column(rule: FieldRule | None, series: pl.Series, unique: bool) -> _Column:
    if rule is None or rule.kind == "string":
        return _string_column(rule, series, unique)
    required = rule.required
    fast = _fast(rule, unique)
    frame = series.rename("x").to_frame()
    empty = _X.is_null() | (_X == "")
    decided = frame.select(
        empty.alias("empty"),
        pl.when(empty).then(None).otherwise(fast.v).alias("fv"),
        *([fast.u.alias("fu"), fast.e.alias("fe")] if unique else []),
    )
    slow_mask = ~decided["empty"] & decided["fv"].is_null()
    if rule.kind == "date" and not slow_mask.any() and not decided["empty"].any():
        # every cell is an ISO date: stored as written
        return _Column(series, True, None, None, series if unique else None, decided["empty"] if unique else None)
    lookup: pl.DataFrame | None = None
    index = pl.Series("i", [None] * len(series), dtype=pl.UInt32)
    if slow_mask.any():
        distinct = series.filter(slow_mask).unique(maintain_order=True)
        lookup = _slow_frame([_slow_cell(rule, v) for v in distinct.to_list()])
        index = series.replace_strict(
            distinct, pl.Series(range(len(distinct)), dtype=pl.UInt32), default=None, return_dtype=pl.UInt32
        )
    work = pl.DataFrame([frame["x"], decided["empty"], decided["fv"], index.alias("i")])
    if unique:
        work = work.with_columns(decided["fu"], decided["fe"])
    slow = pl.col("i").is_not_null()
    is_empty_cell = pl.col("empty")

    def pick(name: str, dtype: pl.DataType) -> pl.Expr:
        if lookup is None:
            return pl.lit(None, dtype=dtype)
        return pl.lit(lookup[name]).gather(pl.col("i"))

    value = (
        pl.when(is_empty_cell)
        .then(pl.when(_X.is_null()).then(pl.lit("null")).otherwise(pl.lit('""')))
        .when(slow)
        .then(pick("v", pl.String()))
        .otherwise(pl.col("fv"))
    )
    valid = pl.when(is_empty_cell).then(pl.lit(not required)).when(slow).then(pick("ok", pl.Boolean())).otherwise(True)
    messages = (
        pl.when(is_empty_cell)
        .then(pl.lit(_required_message(rule.key) if required else None, dtype=pl.String))
        .when(slow)
        .then(pick("m", pl.String()))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    exprs = [value.alias("v"), valid.alias("ok"), messages.alias("m")]
    if unique:
        text = pl.when(is_empty_cell).then(pl.lit("")).when(slow).then(pick("u", pl.String())).otherwise(pl.col("fu"))
        flag = pl.when(is_empty_cell).then(True).when(slow).then(pick("e", pl.Boolean())).otherwise(pl.col("fe"))
        exprs += [text.alias("u"), flag.alias("e")]
    return _column(work.select(exprs), unique)


def _other_column(rule: FieldRule | None, series: pl.Series, unique: bool) -> _Column:
    """Any other dtype: every cell through coerce(), once per distinct value when hashable."""
    if series.dtype in _HASHABLE:
        distinct = series.unique(maintain_order=True)
        values = distinct.to_list()
        results = _slow_frame([_slow_cell(rule, v) for v in values])
        positions = [i for i, v in enumerate(values) if v is not None]
        index = pl.Series([None] * len(series), dtype=pl.UInt32)
        if positions:
            index = series.replace_strict(
                distinct.drop_nulls(), pl.Series(positions, dtype=pl.UInt32), default=None, return_dtype=pl.UInt32
            )
        if len(positions) < len(values):  # the row of None
            index = index.fill_null(values.index(None))
        return _column(results.select(pl.all().gather(index)), unique)
    return _column(_slow_frame([_slow_cell(rule, v) for v in series.to_list()]), unique)


# ---- prepare ------------------------------------------------------------------------------------


def _check(schema: Schema, frame: pl.DataFrame) -> None:
    """The errors of build_inserts, in its order: unknown keys (first row), then the first oversize cell."""
    if frame.height == 0:
        return
    for key in frame.columns:
        if key not in schema.rules and not schema.allow_additional:
            raise ValidationFailedError(f"unknown field {key!r}: it is not in the sheet's fields", key=key)
    first: tuple[int, int, str] | None = None
    for position, key in enumerate(frame.columns):
        series = frame[key]
        row: int | None = None
        if series.dtype == pl.String:
            over = (series.str.len_bytes() > MAX_CELL_BYTES).arg_true()
            row = int(over[0]) if over.len() else None
        elif not isinstance(series.dtype, pl.Categorical | pl.Enum) and series.dtype not in _HASHABLE:
            for n, value in enumerate(series.to_list()):
                if _oversize(value):
                    row = n
                    break
        if row is not None and (first is None or (row, position) < first[:2]):
            first = (row, position, key)
    if first is not None:
        key = first[2]
        raise ValidationFailedError(f"value of {key!r} is larger than {MAX_CELL_BYTES} bytes", key=key)


def _oversize(value: Any) -> bool:
    if isinstance(value, str):
        return len(value.encode()) > MAX_CELL_BYTES
    return isinstance(value, list) and len(_encoder.encode(value)) > MAX_CELL_BYTES


def _lower(series: pl.Series) -> pl.Series:
    """Python's str.lower(): polars for ASCII text, Python for the distinct other values."""
    ascii_text = series.str.contains(r"^[\x00-\x7f]*$")
    lowered = series.str.to_lowercase()
    if ascii_text.all():
        return lowered
    others = series.filter(~ascii_text).unique()
    python = series.replace_strict(others, [v.lower() for v in others.to_list()], default=None, return_dtype=pl.String)
    return pl.select(pl.when(ascii_text.rename("a")).then(lowered).otherwise(python)).to_series()


def _claim_column(key: UniqueKey, columns: dict[str, _Column], height: int) -> pl.Series:
    texts: list[pl.Series] = []
    empties: list[pl.Series] = []
    for name in key.fields:
        cells = columns.get(name)
        if cells is None or cells.text is None or cells.empty is None:  # not in the frame: None
            texts.append(pl.Series([""] * height, dtype=pl.String))
            empties.append(pl.Series([True] * height, dtype=pl.Boolean))
        else:
            texts.append(cells.text if key.case_sensitive else _lower(cells.text))
            empties.append(cells.empty)
    frame = pl.DataFrame({f"t{i}": t for i, t in enumerate(texts)} | {f"e{i}": e for i, e in enumerate(empties)})
    joined = pl.concat_str([pl.col(f"t{i}") for i in range(len(texts))], separator="\x1f")
    if key.ignore_empty:
        joined = pl.when(pl.all_horizontal([pl.col(f"e{i}") for i in range(len(empties))])).then(None).otherwise(joined)
    return frame.select(joined.alias("w")).to_series()


def prepare(schema: Schema, frame: pl.DataFrame, now: datetime) -> Prepared:
    """Decide every cell of `frame` (one column per field key) as build_inserts would."""
    _check(schema, frame)
    unique_fields = {f for u in schema.uniques for f in u.fields}
    columns: dict[str, _Column] = {}
    for key in frame.columns:
        series = frame[key]
        if isinstance(series.dtype, pl.Categorical | pl.Enum):
            series = series.cast(pl.String)
        rule = schema.rule(key)
        unique = key in unique_fields
        if series.dtype == pl.String:
            columns[key] = _text_column(rule, series, unique)
        else:
            columns[key] = _other_column(rule, series, unique)
    layout: list[Layout] = []
    series_list: list[pl.Series] = []
    for i, (key, column) in enumerate(columns.items()):
        series_list.append(column.value.rename(f"v{i}"))
        valid = messages = None
        if column.valid is not None:
            valid = f"ok{i}"
            series_list.append(column.valid.rename(valid))
        if column.messages is not None:
            messages = f"m{i}"
            series_list.append(column.messages.rename(messages))
        layout.append(Layout(key, f"v{i}", column.quoted, valid, messages))
    missing = tuple(r.key for r in schema.rules.values() if r.required and r.key not in columns)
    claims = pl.DataFrame(
        [_claim_column(u, columns, frame.height).rename(f"w{j}") for j, u in enumerate(schema.uniques)],
    )
    return Prepared(schema, frame.height, tuple(layout), missing, pl.DataFrame(series_list), claims, _json(now))


# ---- wanted and encode ----------------------------------------------------------------------


def wanted(prepared: Prepared) -> dict[str, list[str]]:
    """Unique key name -> the distinct normalised values the rows want to claim."""
    return {
        u.name: prepared.claims[f"w{j}"].drop_nulls().unique(maintain_order=True).to_list()
        for j, u in enumerate(prepared.schema.uniques)
    }


def _lit(text: str) -> pl.Expr:
    return pl.lit(text, dtype=pl.String)


Piece = str | pl.Expr


def _concat(pieces: list[Piece]) -> pl.Expr:
    """One concat_str of the pieces (none null), adjacent literal texts merged."""
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif not (isinstance(piece, str) and not piece):
            merged.append(piece)
    if not merged:
        return _lit("")
    return pl.concat_str([_lit(p) if isinstance(p, str) else p for p in merged])


def _joined(parts: list[pl.Expr]) -> pl.Expr:
    """Comma-joined non-null parts ("" when none)."""
    if not parts:
        return _lit("")
    return pl.concat_str(parts, separator=",", ignore_nulls=True)


def _optional(name: str, parts: list[pl.Expr], closing: str) -> list[Piece]:
    """`name` + the comma-joined non-null parts + `closing`, or nothing when no part is there."""
    if not parts:
        return []
    inner = _joined(parts)
    return [pl.when(inner == "").then(_lit("")).otherwise(pl.concat_str([_lit(name), inner, _lit(closing)]))]


@dataclass(frozen=True)
class _Uniques:
    """The outcome of the unique constraints, as expressions over the encode frame."""

    schema: Schema

    def dup(self, j: int) -> pl.Expr:
        return pl.col(f"d{j}")

    def of(self, key: str) -> tuple[list[pl.Expr], list[pl.Expr]]:
        """The unique-constraint messages of a cell (null unless flagged), and the flags."""
        messages: list[pl.Expr] = []
        broken: list[pl.Expr] = []
        for j, u in enumerate(self.schema.uniques):
            if key in u.fields:
                label = u.name.removeprefix("constraint:")
                text = f"{label} must be unique; another record already has this value"
                messages.append(pl.when(self.dup(j)).then(_lit(_json(error(text, "unique-constraint", key)))))
                broken.append(self.dup(j))
        return messages, broken


def _duplicates(schema: Schema, held: Mapping[str, Mapping[str, str]]) -> list[pl.Expr]:
    """First writer wins: a value held by another record, or claimed earlier in the batch, is a duplicate."""
    out: list[pl.Expr] = []
    for j, u in enumerate(schema.uniques):
        w = pl.col(f"w{j}")
        taken = held.get(u.name) or {}
        if taken:
            holder = w.replace_strict(list(taken), list(taken.values()), default=None, return_dtype=pl.String)
            later = pl.when(holder.is_not_null()).then(holder != pl.col("id")).otherwise(~w.is_first_distinct())
        else:
            later = ~w.is_first_distinct()
        out.append((w.is_not_null() & later).alias(f"d{j}"))
    return out


def _cell_pieces(prepared: Prepared, uniques: _Uniques) -> tuple[list[Piece], list[pl.Expr]]:
    """The pieces of the `values` object and the errorFields parts (null unless invalid)."""
    now = prepared.now_json
    pieces: list[Piece] = []
    errors: list[pl.Expr] = []
    for column in prepared.layout:
        extra, broken = uniques.of(column.key)
        pieces.append(("," if pieces else "") + _json(column.key) + ':{"value":')
        pieces += ['"', pl.col(column.value), '"'] if column.quoted else [pl.col(column.value)]
        valid: pl.Expr | None = None if column.valid is None else pl.col(column.valid)
        if broken:
            valid = (pl.lit(True) if valid is None else valid) & ~pl.any_horizontal(broken)
        if valid is None:
            pieces.append(',"valid":true,"messages":[')
        else:
            pieces.append(
                pl.when(valid).then(_lit(',"valid":true,"messages":[')).otherwise(_lit(',"valid":false,"messages":['))
            )
            errors.append(pl.when(~valid).then(_lit(_json(column.key))))
        if extra:
            server = (
                []
                if column.messages is None
                else [pl.when(pl.col(column.messages) != "").then(pl.col(column.messages))]
            )
            pieces.append(_joined([*server, *extra]))
        elif column.messages is not None:
            pieces.append(pl.col(column.messages))
        pieces.append('],"updatedAt":' + now + "}")
    for key in prepared.missing:
        extra, _ = uniques.of(key)
        pieces.append(("," if pieces else "") + _json(key) + ':{"value":null,"valid":false,"messages":[')
        pieces.append(_required_message(key))
        if extra:
            pieces.append(pl.concat_str([pl.lit(""), *extra], separator=",", ignore_nulls=True))
        pieces.append('],"updatedAt":' + now + "}")
        errors.append(_lit(_json(key)))
    pieces += _flagged_cells(prepared, uniques, errors, bool(pieces))
    return pieces, errors


def _flagged_cells(prepared: Prepared, uniques: _Uniques, errors: list[pl.Expr], after: bool) -> list[Piece]:
    """Cells that only exist for their unique-constraint message, in the order they are first flagged."""
    present = {c.key for c in prepared.layout} | set(prepared.missing)
    added: dict[str, pl.Expr] = {}
    for j, u in enumerate(prepared.schema.uniques):
        for key in u.fields:
            if key in present:
                continue
            before = added.get(key, pl.lit(False))
            errors.append(pl.when(uniques.dup(j) & ~before).then(_lit(_json(key))))
            added[key] = before | uniques.dup(j)
    extras: list[pl.Expr] = []
    for key, flagged in added.items():
        messages, _ = uniques.of(key)
        body: list[Piece] = [
            _json(key) + ':{"value":null,"valid":false,"messages":[',
            _joined(messages),
            '],"updatedAt":null}',
        ]
        extras.append(pl.when(flagged).then(_concat(body)))
    if not extras:
        return []
    joined = _joined(extras)
    if after:
        joined = pl.when(joined == "").then(_lit("")).otherwise(pl.concat_str([_lit(","), joined]))
    return [joined]


def encode(prepared: Prepared, ids: Sequence[str], held: Mapping[str, Mapping[str, str]]) -> list[bytes]:
    """One JSON `StoredRecord` per row, in row order, with the unique constraints applied."""
    schema = prepared.schema
    if len(ids) != prepared.height:
        raise ValueError(f"{len(ids)} ids for {prepared.height} rows")
    if prepared.height == 0:
        return []
    id_series = pl.Series("id", list(ids), dtype=pl.String)
    if id_series.n_unique() != prepared.height:
        raise ValueError("record ids must be distinct")
    plain_ids = not id_series.str.contains(r'["\\\x00-\x1f]').any()
    work = pl.concat([prepared.cells, prepared.claims, id_series.to_frame()], how="horizontal")
    dups = _duplicates(schema, held)
    if dups:
        work = work.with_columns(dups)
    uniques = _Uniques(schema)
    claims: list[pl.Expr] = []
    waits: list[pl.Expr] = []
    for j, u in enumerate(schema.uniques):
        pair = pl.concat_str([_lit(_json(u.name) + ":"), _esc(pl.col(f"w{j}"))])
        claims.append(pl.when(pl.col(f"w{j}").is_not_null() & ~uniques.dup(j)).then(pair))
        waits.append(pl.when(uniques.dup(j)).then(pair))
    cells, errors = _cell_pieces(prepared, uniques)
    pieces: list[Piece] = [
        '{"id":',
        *(['"', pl.col("id"), '"'] if plain_ids else [_esc(pl.col("id"))]),
        ',"values":{',
        *cells,
        "}",
        *_optional(',"valid":false,"errorFields":[', errors, "]"),
        *_optional(',"claims":{', claims, "}"),
        *_optional(',"waits":{', waits, "}"),
        "}",
    ]
    document = _concat(pieces)
    out = work.select(document.cast(pl.Binary).alias("doc")).to_series()
    return list(out.to_list())
