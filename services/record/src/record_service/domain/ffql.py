"""FFQL, Flatfile's record filter language (the `q` parameter): tokenizer and parser. Pure, no SQL.

Grammar (keywords and operators in any case; `and` binds tighter than `or`)::

    query     := or_expr END
    or_expr   := and_expr ("or" and_expr)*
    and_expr  := term ("and" term)*
    term      := "(" or_expr ")" | "is" status | name "is" status | [name] operator value
    status    := "error" | "valid"
    operator  := eq | ne | lt | gt | lte | gte | like | ilike | contains
    name, value := a bare word (no space, quote or parenthesis) | "a quoted text"

A term that starts with a bare operator word or `is` has no field (it applies to the record or to
any field); a field named like a keyword is written quoted (`"is" eq x`). Inside quotes `\\"` is a
quote and `\\\\` a backslash; any other backslash is kept (so `like "50\\%"` keeps `\\%` for LIKE).
Errors are `ValidationFailedError(key="q")` naming a 1-based character position.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

from spaceport.errors import ValidationFailedError

MAX_LENGTH = 10_000  # as a view's saved `q` (workbook_service.domain.view.MAX_TEXT)
MAX_DEPTH = 50  # nested parentheses
MAX_TERMS = 200  # conditions: one without a field becomes one per field of the sheet in SQL

Op = Literal["eq", "ne", "lt", "gt", "lte", "gte", "like", "ilike", "contains"]
Status = Literal["error", "valid"]
OPERATORS: tuple[str, ...] = get_args(Op)
STATUSES: tuple[str, ...] = get_args(Status)


@dataclass(frozen=True)
class Cond:
    """`[field] op value`; `field` None = any field. `at` = 1-based position (not compared)."""

    field: str | None
    op: Op
    value: str
    at: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class Is:
    """`[field] is error|valid`; `field` None = the whole record."""

    field: str | None
    status: Status
    at: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


Expr = Cond | Is | And | Or


@dataclass(frozen=True)
class Token:
    kind: Literal["word", "text", "(", ")", "end"]
    text: str
    at: int  # 1-based

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def shown(self) -> str:
        if self.kind == "end":
            return "end of query"
        return repr(self.text) if self.kind in ("word", "text") else f"'{self.kind}'"


def fail(message: str) -> ValidationFailedError:
    return ValidationFailedError(f"q: {message}", key="q")


def _quoted(source: str, start: int) -> tuple[str, int]:
    """The text of the quoted string opening at `start` and the index after its closing quote."""
    out: list[str] = []
    i = start + 1
    while i < len(source):
        c = source[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\" and i + 1 < len(source) and source[i + 1] in '"\\':
            out.append(source[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    raise fail(f"unterminated quoted text starting at position {start + 1} (a closing '\"' was expected)")


def tokens(source: str) -> list[Token]:
    """The tokens of `source`, ending with an `end` token."""
    found: list[Token] = []
    i = 0
    while i < len(source):
        c = source[i]
        if c.isspace():
            i += 1
        elif c in "()":
            found.append(Token(c, c, i + 1))  # type: ignore[arg-type]
            i += 1
        elif c == '"':
            text, after = _quoted(source, i)
            found.append(Token("text", text, i + 1))
            i = after
        else:
            start = i
            while i < len(source) and not source[i].isspace() and source[i] not in '()"':
                i += 1
            found.append(Token("word", source[start:i], start + 1))
    found.append(Token("end", "", len(source) + 1))
    return found


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokens(source)
        self.i = 0
        self.terms = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def query(self) -> Expr:
        expr = self.or_expr(0)
        token = self.peek
        if token.kind == ")":
            raise fail(f"unexpected ')' at position {token.at} (no '(' to close)")
        if token.kind != "end":
            raise fail(f"expected 'and', 'or' or the end of the query at position {token.at}, found {token.shown()}")
        return expr

    def or_expr(self, depth: int) -> Expr:
        items = [self.and_expr(depth)]
        while self.peek.is_word("or"):
            self.take()
            items.append(self.and_expr(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, depth: int) -> Expr:
        items = [self.term(depth)]
        while self.peek.is_word("and"):
            self.take()
            items.append(self.term(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def term(self, depth: int) -> Expr:
        token = self.peek
        if token.kind == "(":
            return self.group(depth)
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise fail(f"more than {MAX_TERMS} conditions (the next one at position {token.at})")
        if token.is_word("is"):
            self.take()
            return Is(None, self.status(), token.at)
        if token.is_word(*OPERATORS):
            return self.condition(None, token.at)
        if token.kind not in ("word", "text"):
            raise fail(f"expected a condition at position {token.at}, found {token.shown()}")
        self.take()
        if self.peek.is_word("is"):
            self.take()
            return Is(token.text, self.status(), token.at)
        return self.condition(token.text, token.at)

    def group(self, depth: int) -> Expr:
        opening = self.take()
        if depth >= MAX_DEPTH:
            raise fail(f"parentheses nest deeper than {MAX_DEPTH} at position {opening.at}")
        expr = self.or_expr(depth + 1)
        closing = self.take()
        if closing.kind != ")":
            raise fail(
                f"expected ')' at position {closing.at} (to close '(' at position {opening.at}),"
                f" found {closing.shown()}"
            )
        return expr

    def status(self) -> Status:
        token = self.take()
        if not token.is_word(*STATUSES):
            raise fail(f"expected 'error' or 'valid' at position {token.at}, found {token.shown()}")
        return "error" if token.text.lower() == "error" else "valid"

    def condition(self, name: str | None, at: int) -> Cond:
        token = self.take()
        if not token.is_word(*OPERATORS):
            raise fail(
                f"expected an operator ({', '.join(OPERATORS)}) or 'is' at position {token.at}, found {token.shown()}"
            )
        value = self.take()
        if value.kind not in ("word", "text"):
            raise fail(f"expected a value at position {value.at}, found {value.shown()}")
        op: Op = OPERATORS[OPERATORS.index(token.text.lower())]  # type: ignore[assignment]
        return Cond(name, op, value.text, at)


def parse(source: str) -> Expr:
    """The AST of an FFQL query; `ValidationFailedError` (key "q") naming the position otherwise."""
    if len(source) > MAX_LENGTH:
        raise fail(f"the query is longer than {MAX_LENGTH} characters")
    return _Parser(source).query()


# ---- back to text (tests: parse(to_text(e)) == e) ----------------------------------------------


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_text(expr: Expr) -> str:
    """FFQL text that parses back to `expr` (names and values always quoted)."""
    match expr:
        case Cond(field=name, op=op, value=value):
            return f"{quote(name) + ' ' if name is not None else ''}{op} {quote(value)}"
        case Is(field=name, status=status):
            return f"{quote(name) + ' ' if name is not None else ''}is {status}"
        case And(items=items):
            return " and ".join(_operand(i) for i in items)
        case Or(items=items):
            return " or ".join(_operand(i) for i in items)
    raise AssertionError(expr)


def _operand(expr: Expr) -> str:
    return f"({to_text(expr)})" if isinstance(expr, And | Or) else to_text(expr)
