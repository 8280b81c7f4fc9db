"""Lockstep rounds: the driver statements of several writes sent as one batch (PostgreSQL).

A group of writes run in lockstep (`app.core.group_commit`) collects each round's
driver statements here, one lane per write, and sends them together: the same
statement of every lane once, as one executemany, once for each distinct parameter set
(`repeatable`), folded into fewer (`fold`), or as one execution over arrays
(`at_once`). Each write still reads its own answers, after the batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Dialect
from sqlalchemy.engine.interfaces import DBAPICursor

from app.core.driver import COLLECTING, DriverStatement, Rows, pipelined, send_deferred


@dataclass(slots=True)
class _Queued:
    statement: DriverStatement
    parameter_sets: list[Any]
    asked: bool  # its rows are wanted
    answer: _Answers | _Numbered | None = None  # where they are read, once the round was sent
    index: int = 0  # which of those answers is its own


class _Answers:
    """The result sets of one executemany, one per parameter set, read once all came."""

    __slots__ = ("_cursor", "_sets")

    def __init__(self, cursor: DBAPICursor) -> None:
        self._cursor = cursor
        self._sets: list[list[Sequence[Any]]] | None = None

    def rows(self, index: int) -> list[Sequence[Any]]:
        if self._sets is None:
            sets: list[list[Sequence[Any]]] = []
            try:
                while True:
                    sets.append(list(self._cursor.fetchall()))
                    if not self._cursor.nextset():
                        break
            finally:
                self._cursor.close()
            self._sets = sets
        return self._sets[index]


class _Numbered:
    """The rows of a statement sent at once for many parameter sets, each row led by the
    1-based position of the set it answers; read once all came."""

    __slots__ = ("_count", "_cursor", "_sets")

    def __init__(self, cursor: DBAPICursor, count: int) -> None:
        self._cursor = cursor
        self._count = count
        self._sets: list[list[Sequence[Any]]] | None = None

    def rows(self, index: int) -> list[Sequence[Any]]:
        if self._sets is None:
            sets: list[list[Sequence[Any]]] = [[] for _ in range(self._count)]
            try:
                for row in self._cursor.fetchall():
                    sets[row[0] - 1].append(row[1:])
            finally:
                self._cursor.close()
            self._sets = sets
        return self._sets[index]


class Round:
    """The driver statements that several writes run in one lockstep round (PostgreSQL).

    Each write runs in its own `lane`. When the round is sent, the k-th statement of
    every lane goes in one executemany per statement (one execution where the statement
    has an `at_once` form), lanes in order: each write's statements keep their order,
    and the group pays psycopg's cost per statement (a cursor, a send and a receive)
    once instead of once per write. A repeatable statement
    goes once for each distinct parameter set (a person's lock, the stage they reached,
    the clinics listening: once a group, however many sessions they log). Rows are read
    after the batch, as with `DriverStatement.send`. A statement that must be answered at
    once (`DriverStatement.all`) sends what the round holds first.
    """

    def __init__(self, cursor: DBAPICursor) -> None:
        self._cursor = cursor  # for the statements whose rows nobody reads
        self._lanes: dict[int, list[_Queued]] = {}
        self.lane = 0

    def run(self, statement: DriverStatement, parameter_sets: list[Any]) -> None:
        """Queue `statement` for its effect, in the current lane."""
        self._lanes.setdefault(self.lane, []).append(_Queued(statement, parameter_sets, False))

    def ask(self, statement: DriverStatement, parameter_sets: list[Any]) -> Rows:
        """Queue `statement` in the current lane; its rows, read after the round's batch."""
        queued = _Queued(statement, parameter_sets, True)
        self._lanes.setdefault(self.lane, []).append(queued)
        return lambda: self._rows_of(queued)

    def _rows_of(self, queued: _Queued) -> list[Sequence[Any]]:
        if queued.answer is None:
            raise RuntimeError("the round was not sent")  # read before its batch: a bug
        return queued.answer.rows(queued.index)

    def send(self) -> None:
        """Send what the lanes hold as one pipelined batch; a round that holds nothing
        sends nothing, not even a batch's closing sync."""
        lanes = [self._lanes[lane] for lane in sorted(self._lanes)]
        self._lanes = {}
        if not lanes:
            return
        with pipelined(self._cursor):
            for position in range(max(map(len, lanes))):
                same: dict[DriverStatement, list[_Queued]] = {}
                for lane in lanes:
                    if position < len(lane):
                        same.setdefault(lane[position].statement, []).append(lane[position])
                for statement, queued in same.items():
                    self._run(statement, queued)

    def _run(self, statement: DriverStatement, queued: list[_Queued]) -> None:
        parameter_sets = [sets for one in queued for sets in one.parameter_sets]
        # Where each parameter set's answer is: its own, or an earlier equal set's.
        answered_by = list(range(len(parameter_sets)))
        if statement.repeatable:
            parameter_sets, answered_by = _distinct(parameter_sets)
        asked = any(one.asked for one in queued)
        if not asked and statement.fold is not None:
            parameter_sets = statement.fold(parameter_sets)
        send_deferred(self._cursor)
        answers = self._send(statement, parameter_sets, asked=asked)
        if answers is None:
            return
        index = 0
        for one in queued:
            one.answer, one.index = answers, answered_by[index]
            index += len(one.parameter_sets)

    def _send(
        self, statement: DriverStatement, parameter_sets: list[Any], *, asked: bool
    ) -> _Answers | _Numbered | None:
        """Send `statement` for every parameter set; where their rows will be read, if asked."""
        at_once = statement.at_once
        if at_once is not None and len(parameter_sets) > 1:
            arrays = {name: [one[name] for one in parameter_sets] for name in at_once.bound}
            if not asked:
                self._cursor.execute(at_once.sql, arrays)
                return None
            own = self._cursor.connection.cursor()
            own.execute(at_once.sql, arrays)
            return _Numbered(own, len(parameter_sets))
        if not asked:
            self._cursor.executemany(statement.sql, parameter_sets)
            return None
        own = self._cursor.connection.cursor()
        own.executemany(statement.sql, parameter_sets, returning=True)
        return _Answers(own)


def unnested(columns: Mapping[str, ColumnElement[Any]], dialect: Dialect) -> str:
    """`unnest(...) WITH ORDINALITY AS p(names..., ord)` for an `at_once` statement: one row
    `p` per parameter set, each parameter (named as in `columns`) an array of its column's
    type, and `p.ord` the set's 1-based position."""
    arrays = ", ".join(
        f"CAST(:{name} AS {column.type.compile(dialect=dialect)}[])"
        for name, column in columns.items()
    )
    return f"unnest({arrays}) WITH ORDINALITY AS p({', '.join(columns)}, ord)"


def _distinct(parameter_sets: list[Any]) -> tuple[list[Any], list[int]]:
    """The distinct parameter sets in first-seen order, and which of them answers each set."""
    positions: dict[Any, int] = {}
    distinct: list[Any] = []
    answered_by: list[int] = []
    for parameters in parameter_sets:
        # One statement makes every set with its keys in one order (`parameters`).
        key = tuple(parameters.items()) if isinstance(parameters, Mapping) else tuple(parameters)
        position = positions.setdefault(key, len(distinct))
        if position == len(distinct):
            distinct.append(parameters)
        answered_by.append(position)
    return distinct, answered_by


@contextmanager
def in_round(cursor: DBAPICursor) -> Iterator[Round]:
    """Collect the driver statements run on `cursor`'s connection into one `Round`, sent
    as one batch when the block ends (`Round.send`)."""
    collecting = Round(cursor)
    COLLECTING[cursor.connection] = collecting
    try:
        yield collecting
    finally:
        COLLECTING.pop(cursor.connection, None)
    collecting.send()  # only when the block ended well: a failed round sends nothing
