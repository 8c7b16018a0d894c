"""Reads and writes of the SQLite savers done at once, on the event loop's thread, when they need not wait.

A saver's own connection is used from a worker thread (aiosqlite's, or anyio's for the sync saver), and each
call costs two thread wake-ups (there and back: about 100 us each on a quiet 2-core machine, several times
that under load), several times what SQLite takes to read a checkpoint (5-10 us) or commit a small
transaction with ``synchronous=NORMAL`` (20-50 us). :class:`NowaitConnection` is a second connection to the
same file on which the async methods first try their statement without waiting: its busy timeout is 0, so a
database another connection is writing makes it give up at once (:data:`WOULD_BLOCK`, or False for a
write), and the call goes to the worker thread as before, where it waits as long as the saver's own
connection is set to. It never waits for the disk: it exists only for a database in WAL mode whose
``synchronous`` setting is ``OFF`` or ``NORMAL`` (a commit then writes the WAL file without ``fsync``), and
it never checkpoints the WAL (``wal_autocheckpoint=0``): after a bounded amount of its own writing it passes
one write to the worker thread, whose connection checkpoints as it is set to.

Not for a database in memory (a second connection would open another one), one not in WAL mode, or one
with ``synchronous=FULL``/``EXTRA``: those keep every call in the worker thread.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from .. import _sql

__all__: list[str] = []

_T = TypeVar("_T")


class _WouldBlock:
    __slots__ = ()

    def __repr__(self) -> str:
        return "WOULD_BLOCK"


WOULD_BLOCK: Final = _WouldBlock()
"""What :meth:`NowaitConnection.read` returns when the read would have to wait."""

COMMITS_BEFORE_HANDOFF = 200
"""How many transactions :class:`NowaitConnection` commits before it passes one write to the saver's own
connection, whose commit checkpoints the WAL when it has grown past that connection's
``wal_autocheckpoint`` (1000 pages by default; one small transaction writes two or three pages)."""

BYTES_BEFORE_HANDOFF = 1 << 21
"""The same, counted in bytes of parameters written (2 MiB, half of the default 1000 pages of 4 KiB)."""

_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY


def _bytes(params: Sequence[Any]) -> int:
    return sum(len(p) for p in params if isinstance(p, (bytes, str)))


class NowaitConnection:
    """A second connection to a SQLite saver's database, used on the event loop's thread for what can be done
    without waiting (see the module). Made by :meth:`open`; safe to call from any thread (one at a time: a
    call finding it in use by another thread gives up, as for a locked database).

    :param conn: the connection, opened with a busy timeout of 0, ``check_same_thread=False`` and in
        autocommit mode (``isolation_level=None``)
    """

    __slots__ = ("__weakref__", "_finalizer", "bytes", "commits", "conn", "lock")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.commits = 0
        """Transactions committed since a write was last passed to the saver's own connection."""
        self.bytes = 0
        """Bytes of parameters written in those."""
        self._finalizer = weakref.finalize(self, conn.close)

    @classmethod
    def open(cls, main: sqlite3.Connection) -> NowaitConnection | None:
        """A connection beside ``main`` (the saver's, set up: tables made, WAL journal asked for), or None
        when ``main``'s database is not one it can serve: in memory, not in WAL mode, ``synchronous`` above
        ``NORMAL``, or not opened by a plain ``sqlite3.connect`` of its file. Call it in the thread that may
        use ``main``; it does blocking I/O. Its saver closes it with :meth:`closed_with`."""
        try:
            files = {name: file for _seq, name, file in main.execute("PRAGMA database_list").fetchall()}
            journal = str(main.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            synchronous = int(main.execute("PRAGMA synchronous").fetchone()[0])
        except sqlite3.Error:
            return None
        file = files.get("main")
        if not file or journal != "wal" or synchronous > 1:
            return None
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(file, timeout=0, check_same_thread=False, isolation_level=None)
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            journal = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            conn.execute("SELECT 1 FROM streamflow_checkpoints LIMIT 0").fetchall()
        except sqlite3.Error:
            journal = ""
        if conn is None or journal != "wal":
            if conn is not None:
                conn.close()
            return None
        return cls(conn)

    def read(self, fn: Callable[..., _T], *args: Any) -> _T | _WouldBlock:
        """``fn(connection, *args)``, or :data:`WOULD_BLOCK` when the connection is in use or the database
        is locked.

        :raises sqlite3.Error: another failure of the statements
        """
        if not self.lock.acquire(blocking=False):
            return WOULD_BLOCK
        if self.closed:
            self.lock.release()
            return WOULD_BLOCK
        try:
            return fn(self.conn, *args)
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                return WOULD_BLOCK
            raise
        finally:
            self.lock.release()

    def write(self, statements: Sequence[_sql.Statement]) -> bool:
        """Run ``statements`` in one transaction, committed; False (nothing written) when the connection is
        in use, the database is locked, or it is the turn of the saver's own connection to write (see
        :data:`COMMITS_BEFORE_HANDOFF`).

        :raises sqlite3.Error: another failure of the statements (the transaction is rolled back)
        """
        if self.commits >= COMMITS_BEFORE_HANDOFF or self.bytes >= BYTES_BEFORE_HANDOFF:
            self.commits = self.bytes = 0
            return False
        if not self.lock.acquire(blocking=False):
            return False
        if self.closed:
            self.lock.release()
            return False
        conn = self.conn
        try:
            if len(statements) == 1:  # a statement alone is a transaction of its own (autocommit)
                sql, params = statements[0]
                try:
                    conn.execute(sql, params)
                except sqlite3.OperationalError as exc:
                    if _busy(exc):
                        return False
                    raise
                self.commits += 1
                self.bytes += _bytes(params)
                return True
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _busy(exc):
                    return False
                raise
            size = 0
            try:
                for sql, params in statements:
                    conn.execute(sql, params)
                    size += _bytes(params)
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
                    return False
                raise
            self.commits += 1
            self.bytes += size
            return True
        finally:
            self.lock.release()

    def closed_with(self, owner: object) -> NowaitConnection:
        """Close the connection when ``owner`` (its saver) is garbage-collected, if not before; returns self."""
        weakref.finalize(owner, self._finalizer)
        return self

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the object collected); then nothing is done on it."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Close the connection (once it is not in use); idempotent."""
        with self.lock:
            self._finalizer()
