"""Core statements compiled once per dialect and run straight on the DB-API cursor.

For the hottest write only (logging a session). Profiling it showed SQLAlchemy's
execution layer (execution context, events, result set-up) costing more than
SQLite's own work for each of its statements. A `DriverStatement` keeps what
SQLAlchemy would do that matters here, and nothing else: the SQL its compiler
writes for the dialect, the parameter order, and the types' bind and result
processors (so a datetime is stored in exactly the form SQLAlchemy stores and
reads back). It runs inside the ORM session's own transaction, on its connection.

On PostgreSQL, `batched` sends statements together in one round trip, and a round
(`app.core.rounds`) goes further for a group of writes run in lockstep: the same
statement of every write goes as one executemany, or as one execution over arrays
where it has an `at_once` form, so psycopg's cost per statement (and there, the
server's) is paid once a group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Dialect
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlmodel import Session

if TYPE_CHECKING:
    from app.core.rounds import Round

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

    __slots__ = (
        "_bind",
        "_defaults",
        "_names",
        "_result",
        "at_once",
        "bound",
        "fold",
        "repeatable",
        "sql",
    )

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        *,
        keys: Sequence[str] | None = None,
        repeatable: bool = False,
        fold: Fold | None = None,
        at_once: ClauseElement | None = None,
    ) -> None:
        """`keys`: for an INSERT without values, the columns each parameter set gives.

        `repeatable`: run again with the same parameters in the same round, it would change
        nothing more and answer the same (a read, or a lock the transaction already holds),
        so a round sends each distinct parameter set once (`Round`). Its parameters must be
        hashable values.

        `fold`: for a statement whose rows nobody reads, the parameter sets of one round
        (processed for the driver, in lane order) made into fewer that leave the same rows
        as running them all in that order.

        `at_once` (PostgreSQL): the same statement for many parameter sets in one execution,
        which a round sends instead of an executemany: each parameter holds every set's
        value, in order (`app.core.rounds.unnested` unpacks them), and each row it answers
        starts with the 1-based position of the parameter set it answers. Both cost the
        server alike per row; at once, the statement's own cost (and psycopg's) is paid
        once a round."""
        compiled = statement.compile(dialect=dialect, column_keys=list(keys or ()))
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.repeatable = repeatable
        self.fold = fold
        self.bound = tuple(compiled.binds)
        self.at_once = None if at_once is None else DriverStatement(at_once, dialect)
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


# The round each DB-API connection is collecting, while it does (`app.core.rounds`).
COLLECTING: WeakKeyDictionary[Any, Round] = WeakKeyDictionary()


def _round_of(cursor: DBAPICursor) -> Round | None:
    """The round `cursor`'s connection is collecting, if any (none outside `in_round`)."""
    return COLLECTING.get(cursor.connection) if COLLECTING else None


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
    with pipelined(cursor):
        yield


@contextmanager
def pipelined(cursor: DBAPICursor) -> Iterator[None]:
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
