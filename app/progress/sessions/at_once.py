"""The hot session statements for every write of a round in one execution (PostgreSQL).

A group of sessions written in lockstep sends the same statement for each of them
(`app.core.rounds.Round`). These are those statements' `at_once` forms: each
parameter is an array holding every write's value in lane order, unpacked into rows
`p` (`unnested`), and what each write must read comes back led by its position
`p.ord`. The server does the same work for each row; the statement's own cost, and
psycopg's for each result, is paid once a round instead of once a session.

Table and column names come from the models' own metadata, never from a request.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Dialect, Table, TextClause, text

from app.core.rounds import unnested


def owners(log: Table, dialect: Dialect) -> TextClause:
    """Whose session each UUID is, locked: `(ord, user_id)` for the UUIDs taken."""
    rows = unnested({"session_id": log.c.id}, dialect)
    return text(
        f"SELECT p.ord, {log.name}.user_id FROM {rows} "  # noqa: S608 (our metadata)
        f"JOIN {log.name} ON {log.name}.id = p.session_id "
        f"ORDER BY p.ord FOR UPDATE OF {log.name}"
    )


def numbered_logs(
    sequence: Table, log: Table, columns: Sequence[str], dialect: Dialect
) -> TextClause:
    """Every new session under its person's next change number, `(ord, number, 1 if
    inserted else 0)` for each.

    A person's counter moves once, by the number of their sessions in the round, and the
    numbers are dealt out in lane order: PostgreSQL refuses an upsert that touches one
    row twice in one statement. Counters are taken in the order of the people's ids, as
    one by one. A UUID taken a moment before (or twice in the round) spends its number,
    as one by one."""
    rows = unnested({name: log.c[name] for name in columns}, dialect)
    names = ", ".join(columns)
    return text(
        f"WITH p AS (SELECT * FROM {rows}), "  # noqa: S608 (our metadata)
        "wanted AS (SELECT user_id, count(*) AS n FROM p GROUP BY user_id), "
        f"taken AS (INSERT INTO {sequence.name} AS counter (user_id, last_seq) "
        "SELECT user_id, n FROM wanted ORDER BY user_id "
        "ON CONFLICT (user_id) DO UPDATE SET last_seq = counter.last_seq + excluded.last_seq "
        "RETURNING counter.user_id, counter.last_seq), "
        "numbered AS (SELECT p.*, taken.last_seq - wanted.n "
        "+ row_number() OVER (PARTITION BY p.user_id ORDER BY p.ord) AS seq "
        "FROM p JOIN wanted USING (user_id) JOIN taken USING (user_id)), "
        f"inserted AS (INSERT INTO {log.name} ({names}, seq) "
        f"SELECT {names}, seq FROM numbered ORDER BY ord "
        "ON CONFLICT (id) DO NOTHING RETURNING id, user_id, seq) "
        # Inserted: this person's row under this number (another person's of the same UUID,
        # or the same person's under another number, is not).
        "SELECT numbered.ord, numbered.seq, (SELECT count(*) FROM inserted "
        "WHERE (inserted.id, inserted.user_id, inserted.seq) "
        "= (numbered.id, numbered.user_id, numbered.seq)) "
        "FROM numbered ORDER BY numbered.ord"
    )


def entries(entry: Table, log: Table, columns: Sequence[str], dialect: Dialect) -> TextClause:
    """Every session's entries, each only under its own person's session."""
    rows = unnested({name: entry.c[name] for name in columns}, dialect)
    values = ", ".join(f"p.{name}" for name in columns)
    return text(
        f"INSERT INTO {entry.name} ({', '.join(columns)}) "  # noqa: S608 (our metadata)
        f"SELECT {values} FROM {rows} WHERE EXISTS (SELECT 1 FROM {log.name} "
        f"WHERE {log.name}.id = p.session_id AND {log.name}.user_id = p.user_id) "
        "ORDER BY p.ord"
    )
