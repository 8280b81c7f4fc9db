"""One process at a time sets the database up: migrations and the seed.

Instances started together on an empty PostgreSQL database raced: Alembic's
`CREATE TABLE alembic_version` and the seed's inserts by slug collided, and two
of three starts failed. A session-level advisory lock (`pg_advisory_lock`) held
on its own connection around each step makes the others wait their turn; each
then finds the work done and does nothing. SQLite takes one writer at a time
already, so there is nothing to hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

# Any constant shared by every process of one deployment; "rehab" in ASCII.
SETUP_LOCK_KEY = 0x7265686162
# Long enough for a slow migration in another process, short enough that a stuck one
# fails the start loudly instead of hanging it.
SETUP_LOCK_TIMEOUT_SECONDS = 600


@contextmanager
def setup_lock(url: str, *, timeout_seconds: float = SETUP_LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the deployment's setup lock (PostgreSQL) for the block; a no-op on SQLite.

    It needs a session of its own on the server: through PgBouncer in transaction mode,
    point the migration job straight at PostgreSQL.
    """
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text(f"SET lock_timeout = {int(timeout_seconds * 1000)}"))
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK_KEY})
            connection.commit()  # the lock belongs to the session, not the transaction
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK_KEY})
                connection.commit()
    finally:
        engine.dispose()
