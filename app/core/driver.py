"""Core statements compiled once per dialect and run straight on the DB-API cursor.

For the hottest write only (logging a session). Profiling it showed SQLAlchemy's
execution layer (execution context, events, result set-up) costing more than
SQLite's own work for each of its statements. A `DriverStatement` keeps what
SQLAlchemy would do that matters here, and nothing else: the SQL its compiler
writes for the dialect, the parameter order, and the types' bind and result
processors (so a datetime is stored in exactly the form SQLAlchemy stores and
reads back). It runs inside the ORM session's own transaction, on its connection.

On PostgreSQL, `batched` sends statements together in one round trip, and `in_round`
goes further for a group of writes run in lockstep: the same statement of every
write goes as one executemany, so psycopg's cost per statement is paid once a group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Dialect
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlmodel import Session

Processor = Callable[[Any], Any]
Fold = Callable[[list[Any]], list[Any]]

# Statements that may wait for the next one on their connection, by DB-API connection:
# a group's savepoints, which then go in that statement's round trip (see `defer`).
_deferred: WeakKeyDictionary[Any, list[str]] = WeakKeyDictionary()


def defer(connection: Any, *statements: str) -> None:
    """Send `statements` (no parameters) on this DB-API connection right before whatever it
    runs next: in the same batch when that is `batched`, else just before it. Whoever defers
    takes back what is left (`take_deferred`) before the connection goes back to its pool."""
    _deferred.setdefault(connection, []).extend(statements)


def take_deferred(connection: Any) -> list[str]:
    """What was deferred on this connection and not sent yet; none of it will be."""
    return _deferred.pop(connection, [])


def send_deferred(cursor: DBAPICursor) -> None:
    """Run what was deferred on the cursor's connection (`defer`), first."""
    if _deferred:
        for statement in _deferred.pop(cursor.connection, ()):
            cursor.execute(statement)


class DriverStatement:
    """One statement, compiled for one dialect, that takes parameters by name."""

    __slots__ = ("_bind", "_defaults", "_names", "_result", "fold", "repeatable", "sql")

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        *,
        keys: Sequence[str] | None = None,
        repeatable: bool = False,
        fold: Fold | None = None,
    ) -> None:
        """`keys`: for an INSERT without values, the columns each parameter set gives.

        `repeatable`: run again with the same parameters in the same round, it would change
        nothing more and answer the same (a read, or a lock the transaction already holds),
        so a round sends each distinct parameter set once (`Round`). Its parameters must be
        hashable values.

        `fold`: for a statement whose rows nobody reads, the parameter sets of one round
        (processed for the driver, in lane order) made into fewer that leave the same rows
        as running them all in that order."""
        compiled = statement.compile(dialect=dialect, column_keys=list(keys or ()))
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.repeatable = repeatable
        self.fold = fold
        # Parameters the statement carries itself (such as the 1 of `last_seq + 1`).
        self._defaults = {
            name: value
            for name, value in compiled.construct_params(_check=False).items()
            if value is not None
        }
        # Positional styles (SQLite's `?`) take a tuple in this order; named ones a mapping.
        self._names: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        self._bind: dict[str, Processor] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._bind[name] = processor
        columns = getattr(statement, "exported_columns", ())
        self._result: tuple[Processor | None, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        merged = {**self._defaults, **values} if self._defaults else dict(values)
        for name, processor in self._bind.items():
            if name in merged and merged[name] is not None:
                merged[name] = processor(merged[name])
        if self._names is None:
            return merged
        return tuple(merged[name] for name in self._names)

    def execute(self, cursor: DBAPICursor, values: Mapping[str, Any]) -> None:
        """Run it for its effect (inside `Round`, with the round)."""
        joined = _round_of(cursor)
        if joined is not None:
            joined.run(self, [self.parameters(values)])
            return
        send_deferred(cursor)
        cursor.execute(self.sql, self.parameters(values))

    def send(self, cursor: DBAPICursor, values: Mapping[str, Any]) -> Pending:
        """Run it now and read its rows later: inside `batched`, the answer comes with the
        batch's. `cursor` may be shared: the rows come from a cursor of their own (one
        made here, or, inside `Round`, the round's)."""
        joined = _round_of(cursor)
        if joined is not None:
            return Pending(self, joined.ask(self, [self.parameters(values)]))
        send_deferred(cursor)
        own: DBAPICursor = cursor.connection.cursor()
        own.execute(self.sql, self.parameters(values))
        return Pending(self, _own_rows(own))

    def executemany(self, cursor: DBAPICursor, rows: Sequence[Mapping[str, Any]]) -> None:
        parameter_sets: list[Any] = [self.parameters(row) for row in rows]
        joined = _round_of(cursor)
        if joined is not None:
            joined.run(self, parameter_sets)
            return
        send_deferred(cursor)
        cursor.executemany(self.sql, parameter_sets)

    def all(self, cursor: DBAPICursor, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, its values read as SQLAlchemy would read them."""
        joined = _round_of(cursor)
        if joined is not None:
            joined.send()  # what the round holds goes first, as it was run first
        send_deferred(cursor)
        cursor.execute(self.sql, self.parameters(values))
        return [self.read(row) for row in cursor.fetchall()]

    def first(self, cursor: DBAPICursor, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row; None when none."""
        rows = self.all(cursor, values)
        return rows[0] if rows else None

    def scalar(self, cursor: DBAPICursor, values: Mapping[str, Any]) -> Any:
        """The first column of the first row; None when there is no row."""
        row = self.first(cursor, values)
        return None if row is None else row[0]

    def read(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if processor is None or value is None else processor(value)
            for processor, value in zip(self._result, row, strict=False)
        )


Rows = Callable[[], list[Sequence[Any]]]


class Pending:
    """A statement sent whose rows are read when they are needed (after its batch)."""

    __slots__ = ("_rows", "_statement")

    def __init__(self, statement: DriverStatement, rows: Rows) -> None:
        self._statement = statement
        self._rows = rows

    def all(self) -> list[tuple[Any, ...]]:
        return [self._statement.read(row) for row in self._rows()]

    def first(self) -> tuple[Any, ...] | None:
        rows = self._rows()
        return None if not rows else self._statement.read(rows[0])

    def scalar(self) -> Any:
        row = self.first()
        return None if row is None else row[0]


def _own_rows(cursor: DBAPICursor) -> Rows:
    """The rows of the one statement `cursor` ran, read once, then the cursor closed."""

    def rows() -> list[Sequence[Any]]:
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    return rows


# The round each DB-API connection is collecting, while it does (see `Round`).
_rounds: WeakKeyDictionary[Any, Round] = WeakKeyDictionary()


def _round_of(cursor: DBAPICursor) -> Round | None:
    """The round `cursor`'s connection is collecting, if any (none outside `in_round`)."""
    return _rounds.get(cursor.connection) if _rounds else None


@dataclass(slots=True)
class _Queued:
    statement: DriverStatement
    parameter_sets: list[Any]
    asked: bool  # its rows are wanted
    answer: _Answers | None = None  # where they are read, once the round was sent
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


class Round:
    """The driver statements that several writes run in one lockstep round (PostgreSQL).

    Each write runs in its own `lane`. When the round is sent, the k-th statement of
    every lane goes in one executemany per statement, lanes in order: each write's
    statements keep their order, and the group pays psycopg's cost per statement (a
    cursor, a send and a receive) once instead of once per write. A repeatable statement
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
        with _pipelined(self._cursor):
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
        send_deferred(self._cursor)
        if not any(one.asked for one in queued):
            if statement.fold is not None:
                parameter_sets = statement.fold(parameter_sets)
            self._cursor.executemany(statement.sql, parameter_sets)
            return
        cursor = self._cursor.connection.cursor()
        answer, index = _Answers(cursor), 0
        for one in queued:
            one.answer, one.index = answer, answered_by[index]
            index += len(one.parameter_sets)
        cursor.executemany(statement.sql, parameter_sets, returning=True)


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
    _rounds[cursor.connection] = collecting
    try:
        yield collecting
    finally:
        _rounds.pop(cursor.connection, None)
    collecting.send()  # only when the block ended well: a failed round sends nothing


@contextmanager
def batched(cursor: DBAPICursor) -> Iterator[None]:
    """On PostgreSQL, the statements run inside go to the server together and are answered in
    one round trip (psycopg's pipeline mode); elsewhere they run one by one.

    Read what they return after the block, each from its own cursor (`DriverStatement.send`):
    a read inside it sends what is queued and waits for it. Only driver statements belong
    here: the ORM reads a result's shape as soon as it executes, which a pipeline defers.
    Inside another batch, or a round (`in_round`), the statements join it (and are answered
    when it is).
    """
    if _round_of(cursor) is not None:
        yield
        return
    with _pipelined(cursor):
        yield


@contextmanager
def _pipelined(cursor: DBAPICursor) -> Iterator[None]:
    connection = getattr(cursor, "connection", None)
    pipeline = getattr(connection, "pipeline", None)
    if pipeline is None or connection.pgconn.pipeline_status:  # type: ignore[union-attr]
        yield
        return
    with pipeline():
        send_deferred(cursor)
        yield


def driver_cursor(session: Session) -> DBAPICursor:
    """A DB-API cursor on the session's connection, inside its transaction (begun if need be)."""
    connection = session.connection().connection
    return connection.cursor()
