"""Session logs: idempotent by the client's UUID, synced by a per-person change counter.

Phones log offline and retry, and one person may use several devices: `write`
stores one session by its UUID, `sync` a batch item by item, `feed` answers what
changed since a cursor; `checks`, `statements` and `ratings` serve the write.
"""
