"""The ledger: one SQLite database, its connection, its transactions, and the verbs the engine records with.

Opened through sqlite-utils with `execute_plugins=False` (an embedded library must not run sqlite-utils plugins),
WAL journal, foreign keys on, a busy timeout so that concurrent writers wait instead of failing. Each verb is one
short write transaction: all of it or nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlite_utils
from attrs import field, frozen
from paybonus.errors import NewerLedger, UserError

from .audit_log import AuditLog, Head
from .companies import Companies, padded, parts_of
from .dead_letters import MessageDeadLetters
from .dispatches import Dispatches, FindingRow
from .entitlements import ROW_DIGEST, ROW_ID, EntitlementRow, Entitlements
from .events import EventRecord, Events
from .payments import PaymentRecord, Payments, status_of
from .sql import is_url, needs_server_extra
from .verify_reads import read_only

if TYPE_CHECKING:
    from .pg_backend import PgBackend
from .schema import migrations, newer_migrations, written_by_a_newer_version

BUSY_TIMEOUT_S = 60.0
CACHE_KIB = 64 * 1024  # page cache per connection (measured: 11 % faster at 50 000 employees than 2 MiB)
# pages of a new ledger: an entitlement row is 1.3 KB, two or three to a 4 KiB page with 16 % left unused; 8 KiB
# pages made a 100 000-employee close 7 % cheaper in CPU and its ledger 8 % smaller (docs/performance.md)
PAGE_SIZE = 8192
COMPLETED, FAILED = "completed", "failed"


_EXPECTED: dict[tuple[str, str], str] | None = None


# what opening a file that is not a ledger, or a damaged one, raises: a damaged schema's text may not even decode
UNREADABLE = (sqlite3.DatabaseError, UnicodeDecodeError)


_SETTING_UP: set[str] = set()  # ledgers whose lock this process holds


@contextmanager
def _setting_up(path: str) -> Iterator[None]:
    """Held while a process creates or upgrades the ledger at `path`: concurrent `paybonus init`s (or commands
    opening an older ledger) take turns, so that each sees the schema the one before it left. An advisory lock
    (flock) on the ledger's directory, never on the ledger file, whose POSIX locks SQLite holds (closing another
    descriptor of it would release them). Where it cannot be taken (no fcntl, an unreadable directory), nothing
    is held: the create's retries remain."""
    if path == ":memory:" or is_url(path) or path in _SETTING_UP:  # held already (create, then migrate)
        yield
        return
    try:
        import fcntl

        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_S * 2  # then go on unlocked: a stuck process blocks no one
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        _SETTING_UP.add(path)
        yield
    finally:
        _SETTING_UP.discard(path)
        os.close(fd)  # releases the lock


def _contended(exc: sqlite3.OperationalError) -> bool:
    """Another process holds the file or has just applied the same migration (a race of two inits)."""
    text = str(exc)
    return any(w in text for w in ("locked", "busy", "already exists", "duplicate column"))


def not_a_ledger(exc: Exception, path: str = "") -> str:
    folder = Path(path).absolute().parent
    if path and "unable to open" in str(exc) and not os.access(folder, os.W_OK | os.X_OK):
        # read-only media (an auditor's copy): the file may be a sound ledger, SQLite cannot write its journal
        return f"cannot open the ledger: {folder} is not writable (SQLite keeps its journal beside the file)"
    if isinstance(exc, UnicodeDecodeError):
        return "not a paybonus ledger (its schema is damaged: malformed text)"
    return f"not a paybonus ledger ({exc})"


class StaleRead(Exception):
    """What a computation read changed before its result could be recorded: compute again."""


class Overpaid(ValueError):
    """A payment above what is still due (checked again under the write lock)."""


class CompanyVersion(NamedTuple):
    """`Ledger.version`: compared whole (a tuple); its configuration digest and payroll load are also what a
    computation records as its inputs, read in the same statement. `chain_length`, the number of entries of the
    company's audit chain, changes with every event, payment, entitlement, dispatch and load recorded for it:
    without it, an event another publisher recorded while a computation ran, whose own dispatch recorded no
    entitlement (a close, a result waiting for the rest), went unnoticed, and each computation missed the other's
    event (write skew: a company's whole intéressement was never computed)."""

    entitlement_seq: Any
    payment_seq: Any
    loaded_at: str
    config_digest: str
    payroll_load: int | None
    chain_length: int | None


@frozen
class DispatchInputs:
    """What a computation read besides the ledger's events and entitlements: the parameter set, the company's
    configuration version and its payroll load (kept, so that the dispatch can be replayed)."""

    params_digest: str
    params_document: str  # canonical JSON, kept once per set
    config_digest: str
    payroll_load: int | None


@frozen
class DispatchRecord:
    """What one completed dispatch writes: its entitlement rows (streamed), findings, summary."""

    event_id: str
    scheme: str
    scheme_version: str
    attempt: int
    rows: Iterable[EntitlementRow]
    findings: Sequence[FindingRow]
    summary: str  # canonical JSON
    at: str
    company: str
    inputs: DispatchInputs
    read_version: tuple[Any, ...] | None = (
        None  # `Ledger.version(company)` the computation read (None: no check)
    )
    # the explanation parts the rows share (hash -> canonical JSON); filled while `rows` is read
    shared: dict[str, str] = field(factory=dict)


def digest_of(data: Any) -> str:
    """sha256 of canonical JSON (sorted keys, compact, UTF-8 kept): `json.dumps(data, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False, default=str)`, by an encoder built once (one digest per dispatch;
    building the encoder was most of it)."""
    text = "".join(_DIGEST_ENCODER(data, 0)) if _DIGEST_ENCODER is not None else _digest_text(data)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _digest_text(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# json.dumps's C encoder with those options, without its check for circular references (data that holds itself
# raises RecursionError instead of ValueError; what is digested here is built of plain values)
_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_DIGEST_ENCODER: Any = (
    _make_encoder(None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    if _make_encoder is not None
    else None
)


def dispatch_digest(
    event_id: str,
    scheme: str,
    version: str,
    status: str,
    attempts: int,
    error: str | None,
    summary: str | None,
    entitlements: Sequence[str],
    findings: Sequence[Sequence[Any]],
    inputs: tuple[str | None, str | None, int | None],
) -> str:
    """What a dispatch's audit entry vouches for: its outcome, what it recorded and what it computed from."""
    params, config, load = inputs
    return digest_of(
        {
            "event": event_id,
            "scheme": scheme,
            "version": version,
            "status": status,
            "attempts": attempts,
            "error": error,
            "summary": summary,
            "entitlements": list(entitlements),
            "findings": [list(f) for f in findings],
            "params": params,
            "config": config,
            "payroll_load": load,
        }
    )


def payment_digest(event_id: str, status: str) -> str:
    return digest_of({"event": event_id, "status": status})


def synchronous_from_env() -> str:
    """`PAYBONUS_SYNCHRONOUS`: NORMAL (the default), FULL or EXTRA; anything else is refused, not replaced."""
    text = os.environ.get("PAYBONUS_SYNCHRONOUS", "").strip()
    if text.upper() not in ("", "NORMAL", "FULL", "EXTRA"):
        raise UserError("PAYBONUS_SYNCHRONOUS", f"expected NORMAL, FULL or EXTRA, got {text!r:.40}")
    return text.upper() or "NORMAL"


class Ledger:
    """One paybonus database. `Ledger.create(path)` once, then `Ledger.open(path)`."""

    backend = "sqlite"  # or "postgresql"
    server: PgBackend | None = None  # what a ledger in PostgreSQL does its own way

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.path = path
        self.conn = conn
        # WAL with synchronous=NORMAL never corrupts the ledger, whatever the crash; a power cut may lose the last
        # commits, which republishing restores (events are idempotent). PAYBONUS_SYNCHRONOUS=FULL syncs each commit.
        try:
            sync = synchronous_from_env()
        except UserError:
            conn.close()
            raise
        try:
            self.db = sqlite_utils.Database(conn, execute_plugins=False)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA synchronous = {sync}")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # the 2 MiB default thrashes on a large ledger
        except UNREADABLE as exc:
            conn.close()
            raise UserError(path, not_a_ledger(exc, path)) from None
        self._init_repositories(conn, path)

    def _init_repositories(self, conn: Any, path: str) -> None:
        self.path = path
        self.conn = conn
        self._writing = False
        self._params_chained: set[tuple[str, str]] = set()  # (company, parameter set) known to be chained
        self._params_pending: set[tuple[str, str]] = set()  # chained by the open transaction, if it commits
        self.migrated: list[str] = []  # migrations applied when this ledger was opened (an upgrade)
        # while a company's lock is held across transactions (`holding`): the version read first, outside a
        # transaction (company, version); nobody else can change it until the lock is released
        self._held_version: tuple[str, CompanyVersion] | None = None
        self.events = Events(conn)
        self.entitlements = Entitlements(conn)
        self.dispatches = Dispatches(conn)
        self.payments = Payments(conn)
        self.audit = AuditLog(conn)
        self.companies = Companies(conn)
        self.dead_letters = MessageDeadLetters(conn)

    # -- opening -------------------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path) -> Ledger:
        """Create (or upgrade) the ledger at `path`. A new file is readable by its owner only (0600): it holds
        names and pay; SQLite gives its -wal and -shm files the same permissions. A postgresql:// URL is a ledger
        in a PostgreSQL database (`PgLedger`)."""
        p = str(path)
        if is_url(p):
            return cls._on_server(p, create=True)
        if p != ":memory:" and not Path(p).exists():
            try:
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise UserError(p, f"cannot create the ledger ({exc.strerror})") from None
        # concurrent inits of one new file: the losers of a race (a lock while switching to WAL, a migration
        # another process applied between reading what is pending and applying it) start again, until a deadline
        deadline = time.monotonic() + BUSY_TIMEOUT_S * 2
        delay = 0.02
        while True:
            try:
                with _setting_up(p):
                    return cls._create_sqlite(p)
            except sqlite3.OperationalError as exc:
                if not _contended(exc) or time.monotonic() > deadline:
                    raise UserError(p, not_a_ledger(exc, p)) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    @classmethod
    def _create_sqlite(cls, p: str) -> Ledger:
        conn = _connect(p)
        try:
            # a database that holds other tables is not made a ledger: nothing is added to it
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            if tables and "audit_log" not in tables and "_sqlite_migrations" not in tables:
                shown = ", ".join(sorted(tables)[:3]) + (", ..." if len(tables) > 3 else "")
                conn.close()
                raise UserError(
                    p, f"not a paybonus ledger: it holds other tables ({shown}); init a ledger in a new file"
                )
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new file only: an existing one keeps its own
            conn.execute("PRAGMA journal_mode = WAL")
        except UNREADABLE as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and _contended(exc):
                raise
            raise UserError(p, not_a_ledger(exc, p)) from None
        ledger = cls(conn, p)
        ledger._migrate(contended_raises=True)
        return ledger

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        """Open an existing ledger (upgrading an older one); a missing file is a user error."""
        p = str(path)
        if is_url(p):
            return cls._on_server(p, create=False)
        if not Path(p).is_file():
            raise UserError(p, "no paybonus ledger here (create one with `paybonus init`)")
        ledger = cls(_connect(p), p)
        try:
            tables = set(ledger.db.table_names())
        except UNREADABLE as exc:
            ledger.close()
            raise UserError(p, not_a_ledger(exc, p)) from None
        if "audit_log" not in tables:
            ledger.close()
            raise UserError(p, "not a paybonus ledger (no audit_log table); create one with `paybonus init`")
        ledger._migrate()
        return ledger

    @classmethod
    def _on_server(cls, url: str, create: bool) -> Ledger:
        """A ledger in PostgreSQL (docs/deploy.md): the same repositories over the psycopg adapter."""
        needs_server_extra(url)
        from .pg_backend import PgBackend

        server, migrated = PgBackend.connect(url, create)
        ledger = cls.__new__(cls)
        ledger._init_repositories(server.conn, url)
        ledger.server, ledger.backend, ledger.migrated = server, server.name, migrated
        return ledger

    def _migrate(self, contended_raises: bool = False) -> None:
        try:
            newer = newer_migrations(self.db)
            if newer:  # an older paybonus would write rows (or skip checks) the newer schema does not expect
                self.close()
                raise NewerLedger(self.path, written_by_a_newer_version(newer))
            pending = [m.name for m in migrations.pending(self.db)]
            if pending:
                with _setting_up(
                    self.path
                ):  # another process may be upgrading it: once it is done, see again
                    pending = [m.name for m in migrations.pending(self.db)]
                    if pending:
                        migrations.apply(self.db)
                self.migrated = pending
        except UNREADABLE as exc:
            self.close()
            if contended_raises and isinstance(exc, sqlite3.OperationalError) and _contended(exc):
                raise
            raise UserError(self.path, not_a_ledger(exc, self.path)) from None

    def pending_migrations(self) -> list[str]:
        if self.server is not None:
            return self.server.pending_migrations()
        return [m.name for m in migrations.pending(self.db)]

    def close(self) -> None:
        self.conn.close()

    def throwaway(self) -> Ledger:
        """This SQLite ledger, deleted after use (the replay's scratch copy), no longer waits for the disk at its
        checkpoints (`synchronous = OFF`): a crash may corrupt it, and it is deleted anyway. Never a real ledger."""
        self.conn.execute("PRAGMA synchronous = OFF")
        return self

    @contextmanager
    def one_view(self) -> Iterator[None]:
        """On SQLite, one view of the ledger for the reads inside (an export read in chunks): a read left open holds
        the connection's read transaction (a payment another process commits meanwhile is in none of the rows,
        rather than in the chunks read after it), and the connection can still write. On PostgreSQL, or inside a
        transaction already, nothing more (each read its own view, or the transaction's)."""
        conn = self.conn
        if not isinstance(conn, sqlite3.Connection) or conn.in_transaction:
            yield
            return
        held = conn.execute("SELECT name FROM sqlite_master")
        held.fetchone()
        try:
            yield
        finally:
            held.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self) -> Any:
        """A read-only view of this ledger on its own read-only connection (what plugins receive)."""
        from .reader import LedgerReader

        return LedgerReader.open(self.path)

    # -- transactions --------------------------------------------------------------------------------------

    def defer_durability(self) -> None:
        """Let commits return before they reach the disk (PostgreSQL's `synchronous_commit = off`: what they
        wrote is visible at once, and crash-safe in order); `make_durable` then makes everything committed so
        far durable in one flush. For a worker, which acknowledges a message only after `make_durable`. SQLite
        (WAL, synchronous NORMAL) already survives a process crash without a flush per commit: no change."""
        if self.server is not None:
            self.server.defer_durability()

    def make_durable(self) -> None:
        """Return once every transaction this connection committed is on disk (PostgreSQL: one flush of the
        write-ahead log, which holds them in commit order). SQLite: nothing to do (see `defer_durability`)."""
        if self.server is not None:
            self.server.make_durable()

    @contextmanager
    def holding(self, company: str) -> Iterator[None]:
        """Hold one company's write lock across several write transactions (a worker's message: up to 64 events
        of one company, each recorded and dispatched in its own transactions). PostgreSQL: a session advisory
        lock, so its transactions take none of their own and the chain's head is read once, not once per
        transaction (nobody else can append to that chain meanwhile). SQLite: nothing (one writer at a time)."""
        if self.server is None or self._writing:
            yield
            return
        with self.server.holding(company):
            self.audit.held = company
            self.events.hold(company)
            self.dispatches.hold(company)
            self._held_version = None
            try:
                yield
            finally:
                self.audit.held = None
                self.events.hold(None)
                self.dispatches.hold(None)
                self._held_version = None
                self.audit.forget()

    @contextmanager
    def write(self, *companies: str) -> Iterator[Any]:
        """A write transaction (BEGIN IMMEDIATE): all or nothing. Waits, with backoff, while another writer works.
        Inside another `write()`, it joins that transaction. `companies`: those whose chains it appends to (SQLite
        has one writer at a time whatever they are; a server backend locks these only, none meaning all)."""
        if self._writing:
            yield self.conn
            return
        if self.server is not None:
            self._writing = True
            self.audit.forget(keep_held=True)
            committed = False
            try:
                with self.server.transaction(companies):
                    yield self.conn
                committed = True
                self._params_chained |= self._params_pending
            finally:
                self._params_pending.clear()
                self.audit.forget(keep_held=committed)  # a rollback forgets even the held company's head
                self._writing = False
            return
        delay = 0.05
        deadline = time.monotonic() + BUSY_TIMEOUT_S * 2
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        self._writing = True
        self.audit.forget()
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
            self._params_chained |= self._params_pending
        finally:
            self._params_pending.clear()
            self.audit.forget()
            self._writing = False

    @contextmanager
    def part(self) -> Iterator[None]:
        """Inside an SQLite write transaction: what one part of it writes (a savepoint). If it raises, that
        part alone is undone, the rest of the transaction stays, and the exception goes on to the caller. Some
        errors end the whole transaction (SQLite rolls it back itself on a full disk, an I/O error, an interrupt):
        then the caller must not go on writing (`conn.in_transaction` is False: it would write outside any)."""
        assert self._writing and self.server is None
        pending = set(self._params_pending)
        self.conn.execute("SAVEPOINT part")
        try:
            yield
        except Exception:
            if not self.conn.in_transaction:  # the whole transaction is gone: nothing to undo alone
                self.audit.forget()
                raise
            self.conn.execute("ROLLBACK TO part")
            self.conn.execute("RELEASE part")
            self._params_pending = pending  # the parameter sets it chained are not chained
            self.audit.forget()  # the undone part's head, if it appended: read again when needed
            raise
        self.conn.execute("RELEASE part")

    def version(self, company: str) -> CompanyVersion:
        """What a computation for `company` read, in short: its latest entitlement, its latest payment, its latest
        load and configuration. If it changed before the result is recorded, the result may be stale."""
        held = self.audit.held == company and not self._writing
        if held and self._held_version is not None and self._held_version[0] == company:
            # read already while this session holds the company's lock: only this session can have written
            # since, and what it wrote the computations read anyway (committed, before they ran)
            return self._held_version[1]
        # one statement: one round trip to a server
        row = self.conn.execute(_VERSION, (company,) * 6).fetchone()
        version = CompanyVersion(row[0], row[1], row[2] or "", row[3] or "", row[4], row[5])
        if held:
            self._held_version = (company, version)
        return version

    def _unchanged_since(self, company: str, read: Any) -> bool:
        """`read` is the version of the company this session read while holding its lock (`holding`): nobody else
        can have changed it since, no need to read it again (this session's own commits came before the
        computation read the ledger)."""
        return self.audit.held == company and self._held_version == (company, read)

    def _version_and_head(self, company: str) -> CompanyVersion:
        """`version`, and the head of the company's chain read by the same statement: inside a write transaction
        holding the company's lock, what the next append continues from (one statement less per dispatch)."""
        row = self.conn.execute(_VERSION_AND_HEAD, (company,) * 5 + (company,)).fetchone()
        length = None
        if row[5] is not None:
            n, hsh = row[5].split(":", 1)
            length = int(n)
            self.audit.known_head(company, Head(length, hsh))
        return CompanyVersion(row[0], row[1], row[2] or "", row[3] or "", row[4], length)

    def check_unchanged(self, d: DispatchRecord) -> None:
        """Inside a write transaction: StaleRead if the company changed since `d`'s computation read it (its
        `read_version`). Called before the transaction writes anything of its own for the company."""
        if (
            d.read_version is not None
            and not self._unchanged_since(d.company, d.read_version)
            and self._version_and_head(d.company) != d.read_version
        ):
            raise StaleRead(f"{d.company} {d.event_id}/{d.scheme}")

    # -- what the verifier reads about the database itself --------------------------------------------------

    def integrity(self) -> list[tuple[str]]:
        """SQLite's own check of the file (`PRAGMA integrity_check`): one row 'ok', or what is broken. On a
        connection of its own, so that it may run in another thread beside the other checks."""
        if self.server is not None:
            return self.server.integrity()
        conn = read_only(self.path)
        try:
            return [tuple(r) for r in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()

    def schema(self) -> dict[tuple[str, str], str]:
        if self.server is not None:
            return self.server.schema()
        return self.schema_of(self.conn)

    @staticmethod
    def schema_of(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
        """(type, name) -> definition: a table's columns (name, type, not null, primary key), a trigger's or an
        index's SQL (the indexes a table's own constraints make, `sqlite_autoindex_…`, go with its table)."""
        out: dict[tuple[str, str], str] = {}
        for kind, name, sql in conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'trigger', 'index') "
            "AND name NOT LIKE 'sqlite_%'"
        ):
            if kind == "table":
                cols = conn.execute(f"PRAGMA table_info({name})").fetchall()
                out[(kind, name)] = ";".join(f"{c[1]} {c[2]} {c[3]} {c[5]}" for c in cols)
            else:
                out[(kind, name)] = " ".join(str(sql).split())
        return out

    def expected_schema(self) -> dict[tuple[str, str], str]:
        """Tables (their columns), triggers and indexes (their SQL) of a ledger made by this version."""
        if self.server is not None:
            return self.server.expected_schema()
        global _EXPECTED
        if _EXPECTED is None:
            conn = sqlite3.connect(":memory:")
            migrations.apply(sqlite_utils.Database(conn, execute_plugins=False))
            _EXPECTED = Ledger.schema_of(conn)
            conn.close()
        return _EXPECTED

    def parameter_set(self, digest: str) -> str | None:
        row = self.conn.execute("SELECT document FROM parameter_sets WHERE digest = ?", (digest,)).fetchone()
        return row[0] if row else None

    def parameter_sets(self) -> list[tuple[str, str]]:
        """(digest, document) of every parameter set amounts were computed with."""
        return [
            tuple(r) for r in self.conn.execute("SELECT digest, document FROM parameter_sets ORDER BY digest")
        ]

    # -- verbs ---------------------------------------------------------------------------------------------

    def store_company(
        self,
        company: str,
        name: str,
        toml: str,
        contracts: Iterable[tuple[Any, ...]],
        pay_lines: Iterable[tuple[Any, ...]],
        absences: Iterable[tuple[Any, ...]],
        at: str,
        files: Iterable[tuple[str, bytes]] = (),
    ) -> Head:
        """Replace a company's configuration, payroll inputs and statement files; keep the configuration and payroll
        versions, with their audit entries (the statement files change no amount)."""
        contracts, pay_lines = padded(contracts, pay_lines)  # rows of earlier versions get the new columns
        absences = list(absences)
        parts = parts_of(contracts, pay_lines, absences)
        with self.write(company):
            self._held_version = None  # a new configuration or payroll: the version is read again
            self.companies.upsert(company, name, toml, at)
            config = self.companies.record_config(company, toml, at)
            self.companies.replace_payroll(company, contracts, pay_lines, absences)
            self.companies.replace_files(company, files)
            n, digest = self.companies.record_load(company, config, parts, at)
            return self.audit.append(
                company,
                at,
                [("config.loaded", company, config), ("payroll.loaded", f"{company}/{n}", digest)],
            )

    def record_event(self, event: EventRecord, payment: PaymentRecord | None, at: str) -> Head | None:
        """Record an event (and the payment it carries) with its audit entries; None if its company already
        recorded its id. Raises Overpaid if a payment exceeds what is still due at this moment."""
        with self.write(event.company):
            if self.events.digest(event.company, event.id) is not None:
                return None
            self.events.insert(event, at)
            entries = [("event.recorded", event.id, event.digest)]
            if payment is not None:
                row = self.conn.execute(
                    "SELECT amount_cents FROM entitlements WHERE id = ?", (payment.entitlement,)
                ).fetchone()
                due = int(row[0]) - self.payments.paid_cents(payment.entitlement)
                if payment.amount_cents > due:
                    raise Overpaid(
                        "payload.amount_cents: more than is still due on this entitlement (paid meanwhile)"
                    )
                self.payments.insert(event.id, event.company, payment, at)
                status = status_of(int(row[0]), self.payments.paid_by_mode(payment.entitlement))
                self.entitlements.set_status(payment.entitlement, status)
                entries.append(("payment.recorded", payment.entitlement, payment_digest(event.id, status)))
            return self.audit.append(event.company, at, entries)

    def record_params(self, company: str, params_digest: str, document: str, at: str) -> None:
        """Keep a parameter set (once) and chain it for the company the first time it computes with it."""
        if (company, params_digest) in self._params_chained:
            return
        self.conn.execute(
            "INSERT OR IGNORE INTO parameter_sets (digest, document, recorded_at) VALUES (?, ?, ?)",
            (params_digest, document, at),
        )
        if not self.conn.execute(
            "SELECT 1 FROM audit_log WHERE company = ? AND action = 'params.recorded' AND ref = ?",
            (company, params_digest),
        ).fetchone():
            self.audit.append(company, at, [("params.recorded", params_digest, params_digest)])
        self._params_pending.add((company, params_digest))

    def record_dispatch(self, d: DispatchRecord, checked: bool = False) -> tuple[Head, list[str]] | None:
        """Record a completed dispatch: its entitlements, findings, audit entries and dispatch row. None if it was
        completed meanwhile; StaleRead if the ledger changed since `read_version` (`checked`: the caller's
        transaction called `check_unchanged` before writing its own rows)."""
        return self._record_dispatch(d, check_version=not checked)

    def _record_dispatch(self, d: DispatchRecord, check_version: bool) -> tuple[Head, list[str]] | None:
        with self.write(d.company):
            new = self.events.recorded_while_held(d.company, d.event_id)
            if self.dispatches.completed(d.company, d.event_id, d.scheme, new):
                return None
            if check_version:
                self.check_unchanged(d)
            self.record_params(d.company, d.inputs.params_digest, d.inputs.params_document, d.at)
            ids: list[str] = []
            digests: list[str] = []  # each entitlement's, for its chain entry: the rows themselves are let go

            def keep(rows: Iterable[EntitlementRow]) -> Iterator[EntitlementRow]:
                add_id, add_digest = ids.append, digests.append
                for r in rows:
                    add_id(r[ROW_ID])
                    add_digest(r[ROW_DIGEST])
                    yield r

            self.entitlements.insert(keep(d.rows))
            if d.shared:
                self.entitlements.add_shared(d.shared)
            if d.findings:
                self.dispatches.add_findings(d.findings)
            self.dispatches.upsert(
                d.company,
                d.event_id,
                d.scheme,
                d.scheme_version,
                COMPLETED,
                d.attempt,
                None,
                None,
                d.summary,
                len(ids),
                d.at,
                d.inputs,
            )
            # what `dispatch_digest` re-derives from the rows just written (the verifier does), without reading
            # them back: the findings are this dispatch's only ones (a failure records none), in their order
            digest = dispatch_digest(
                d.event_id,
                d.scheme,
                d.scheme_version,
                COMPLETED,
                d.attempt,
                None,
                d.summary,
                ids,
                [[f.level, f.rule, f.message, f.employee] for f in d.findings],
                (d.inputs.params_digest, d.inputs.config_digest, d.inputs.payroll_load),
            )
            entries = chain(
                zip(repeat("entitlement.recorded"), ids, digests),
                [("dispatch.completed", f"{d.event_id}/{d.scheme}", digest)],
            )
            return self.audit.append(d.company, d.at, entries), ids

    def record_dispatches(
        self, records: Sequence[DispatchRecord], checked: bool = False
    ) -> list[tuple[Head, list[str]] | None]:
        """Several completed dispatches of one company, computed from one read of the ledger, in one transaction
        (a batch of single-employee events). StaleRead, nothing written, if the ledger changed since the
        `read_version` of the first (`checked`: as for `record_dispatch`)."""
        with self.write(*{r.company for r in records}):
            if records and not checked:
                self.check_unchanged(records[0])
            return [self._record_dispatch(r, check_version=False) for r in records]

    def record_failure(
        self,
        company: str,
        event_id: str,
        scheme: str,
        scheme_version: str,
        attempt: int,
        error: str,
        detail: str,
        at: str,
    ) -> Head | None:
        """Record a failed dispatch (a dead letter); None if it was completed meanwhile."""
        with self.write(company):
            if self.dispatches.completed(
                company, event_id, scheme, self.events.recorded_while_held(company, event_id)
            ):
                return None
            self.dispatches.upsert(
                company, event_id, scheme, scheme_version, FAILED, attempt, error, detail, None, 0, at, None
            )
            return self.audit.append(
                company,
                at,
                [
                    (
                        "dispatch.failed",
                        f"{event_id}/{scheme}",
                        self.dispatch_digest(company, event_id, scheme),
                    )
                ],
            )

    def dispatch_digest(
        self,
        company: str,
        event_id: str,
        scheme: str,
        row: Any = None,
        findings: Sequence[Sequence[Any]] | None = None,
        ids: Sequence[str] | None = None,
    ) -> str:
        """A dispatch's digest re-derived from its stored row, its findings and the ids of its entitlements. The
        company is not in it: the entry that holds it is in the company's chain. `row` and `findings` ([level,
        rule, message, employee] of each, in the order written), `ids` (of its entitlements, in `seq` order): the
        dispatch's, when the caller read them."""
        if row is None:
            row = self.dispatches.get(company, event_id, scheme)
        if row is None:
            return digest_of(None)
        if findings is None:
            findings = [
                [f["level"], f["rule"], f["message"], f["employee"]]
                for f in self.dispatches.findings(company, event_id, scheme)
            ]
        if row["status"] != COMPLETED:
            ids = []
        elif ids is None:
            ids = self.entitlements.ids_of_dispatch(company, event_id, scheme)
        return dispatch_digest(
            event_id,
            scheme,
            row["scheme_version"],
            row["status"],
            row["attempts"],
            row["error"],
            row["summary"],
            ids,
            findings,
            (row["params_digest"], row["config_digest"], row["payroll_load"]),
        )

    def record_notices(self, notices: Sequence[tuple[str, str, str, str]], at: str) -> None:
        """Deadline notices (company, entitlement, kind, noticed_on), each once, with their audit entries."""
        with self.write(*sorted({n[0] for n in notices})):
            self.payments.add_notices([(e, k, on) for _, e, k, on in notices], at)
            by_company: dict[str, list[tuple[str, str, str]]] = {}
            for company, ent, kind, on in notices:
                by_company.setdefault(company, []).append((f"deadline.{kind}", ent, digest_of({"as_of": on})))
            for company, entries in by_company.items():
                self.audit.append(company, at, entries)

    def record_dead_letter(
        self,
        source: str,
        subject: str,
        message_id: str | None,
        company: str | None,
        deliveries: int,
        error: str,
        payload: bytes,
        at: str,
    ) -> None:
        """Keep a message an event source gave up on (it kept failing before anything of it was recorded)."""
        with self.write(*([company] if company else [])):
            self.dead_letters.insert(source, subject, message_id, company, deliveries, error, payload, at)

    def seed_for_replay(self, source: Ledger) -> None:
        """For a scratch ledger only: copy, as they are, the companies, events, entitlements, payments and
        dispatches `source` recorded before its chains (paybonus 0.x did not keep their inputs). An event is in a
        chain under its company: (company, id)."""
        legacy = "(SELECT ref FROM audit_log WHERE action = '{}')"
        chained = "(SELECT company, ref FROM audit_log WHERE action = 'event.recorded')"
        copies = (
            (
                "companies",
                f"SELECT * FROM companies WHERE id IN (SELECT company FROM events WHERE (company, id) NOT IN {chained})",
            ),
            ("events", f"SELECT * FROM events WHERE (company, id) NOT IN {chained} ORDER BY seq"),
            (
                "entitlements",
                f"SELECT * FROM entitlements WHERE id NOT IN {legacy.format('entitlement.recorded')} ORDER BY seq",
            ),
            ("payments", f"SELECT * FROM payments WHERE (company, event_id) NOT IN {chained} ORDER BY seq"),
            ("dispatches", f"SELECT * FROM dispatches WHERE (company, event_id) NOT IN {chained}"),
        )
        with self.write():
            for table, sql in copies:
                cur = source.conn.execute(sql)
                cols = [d[0] for d in cur.description]
                marks = ", ".join("?" for _ in cols)
                self.conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", cur)


_VERSION = (
    "SELECT (SELECT MAX(seq) FROM entitlements WHERE company = ?), "
    "(SELECT MAX(seq) FROM payments WHERE company = ?), "
    "(SELECT loaded_at FROM companies WHERE id = ?), "
    "(SELECT config_digest FROM companies WHERE id = ?), "
    "(SELECT MAX(n) FROM payroll_loads WHERE company = ?), "
    "(SELECT MAX(n) FROM audit_log WHERE company = ?)"
)
# the chain's head as "n:hash" (NULL: no chain yet), by the (company, n) index
_VERSION_AND_HEAD = _VERSION.replace(
    "(SELECT MAX(n) FROM audit_log WHERE company = ?)",
    "(SELECT n || ':' || hash FROM audit_log WHERE company = ? ORDER BY n DESC LIMIT 1)",
)


def _connect(path: str) -> sqlite3.Connection:
    if sqlite3.sqlite_version_info < (3, 37):
        raise UserError(
            path, f"SQLite {sqlite3.sqlite_version} is too old: paybonus needs 3.37 or newer (STRICT tables)"
        )
    try:
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise UserError(path, f"cannot open the ledger ({exc})") from None
