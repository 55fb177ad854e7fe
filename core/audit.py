"""The audit verifier: everything the per-company hash chains vouch for, re-derived from the stored rows.

Checked, each failure one line (a `Problem`): SQLite's own integrity, the schema's append-only triggers and indexes; the
frozen 0.x chain and every company's chain; every event (its digest, and its place in the order of the
company's events), entitlement (its digest, and its amount recomputed from its explanation), dispatch (its row,
findings and entitlements), payment, deadline notice, configuration version, payroll load (each part's rows) and
parameter set; failed and never-started dispatches; parameters changed since amounts were computed from them;
and, given signed checkpoints, that nothing recorded before them was removed or rewritten. `paybonus.replay`
re-derives every amount from the recorded inputs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from operator import itemgetter
from typing import Any

from attrs import define, field, frozen
from paybonus.hooks.types import SchemeDescriptor

from . import audit_rows, guard, heap
from .checkpoint import Checkpoint, merkle_root
from .config import parse_company_toml
from .errors import UserError
from .events import canonical_json
from .in_force import SchemesInForce
from .params import Parameters
from .store import GENESIS, Head, Ledger
from .store.audit_log import OPENED, genesis, legacy_chain_hash
from .store.companies import Companies, load_digest, sha256
from .store.entitlements import json_loads, shared_hash
from .store.ledger import digest_of
from .store.payments import status_of
from .store.verify_reads import findings_by_dispatch, read_only, tuples_in


@frozen
class Problem:
    where: str  # "DURAND chain entry 12", "entitlement ENT-…"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@define
class Report:
    entries: int = 0
    events: int = 0
    entitlements: int = 0
    recomputed: int = 0
    dispatches: int = 0
    heads: dict[str, Head] = field(factory=dict)
    root: str = ""
    checkpoints: int = 0
    replayed: int = 0
    problems: list[Problem] = field(factory=list)
    more: int = 0  # problems found beyond those listed
    # what an auditor should know but is no fault of the ledger: legal parameters changed since amounts were
    # computed with them (a correction of the law's numbers; `recomputation_requested` records the differences)
    notes: list[Problem] = field(factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def head(self) -> Head:  # one line for logs: the number of entries and the root over every chain
        return Head(self.entries, self.root)


class _Problems:
    def __init__(self, report: Report, limit: int) -> None:
        self.report, self.limit = report, limit

    def __call__(self, where: str, what: str) -> None:
        if len(self.report.problems) < self.limit:
            self.report.problems.append(Problem(where, what))
        else:
            self.report.more += 1


def verify(
    ledger: Ledger,
    schemes: Mapping[str, SchemeDescriptor],
    *,
    params: Parameters | None = None,
    checkpoints: Sequence[Checkpoint] = (),
    expect_root: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_problems: int = 50,
) -> Report:
    """Check everything; problems come in the order of the checks, the ledger's own integrity first."""
    rep = Report()
    problem = _Problems(rep, max_problems)
    # the entitlements' amounts are recomputed in worker processes on a large ledger, from the start, while this
    # process walks the chains; SQLite's own check of every page runs in C, on its own connection, beside
    workers = _start_workers(ledger, schemes)
    try:  # the workers end whatever happens from here (an error, Ctrl-C before the walk began)
        # the verifier keeps every chain entry's digest while it walks the rows: no full collection of the cyclic
        # collector over them, the young objects collected at each slice of entitlements (`paybonus.heap`)
        with heap.young_only(), ThreadPoolExecutor(2, thread_name_prefix="paybonus-verify") as pool:
            integrity = pool.submit(ledger.integrity)
            try:
                _verify(
                    ledger,
                    schemes,
                    params,
                    checkpoints,
                    expect_root,
                    on_progress,
                    rep,
                    problem,
                    workers,
                    pool,
                )
            except sqlite3.DatabaseError as exc:  # a damaged file: say so, in one line, and stop reading it
                problem(
                    "sqlite", f"the database is damaged and cannot be read further ({type(exc).__name__})"
                )
            except _ALTERED as exc:  # rows paybonus never wrote (edited outside it): a finding, never a crash
                problem(
                    "ledger",
                    f"holds rows paybonus did not write and cannot read further ({type(exc).__name__})",
                )
            finally:
                if workers is not None:
                    workers.close()
            try:
                damaged = [
                    Problem("sqlite", f"integrity_check: {r[0]}") for r in integrity.result() if r[0] != "ok"
                ]
            except sqlite3.DatabaseError as exc:
                damaged = [
                    Problem("sqlite", f"integrity_check could not read the file ({type(exc).__name__})")
                ]
    finally:
        if workers is not None:
            workers.close()
    if damaged:  # the ledger's own integrity comes first
        listed = damaged + rep.problems
        rep.problems, rep.more = listed[:max_problems], rep.more + max(0, len(listed) - max_problems)
    return rep


# what reading a row that was edited outside paybonus may raise (malformed JSON, a list for an object, ...)
_ALTERED = audit_rows.ALTERED


def _start_workers(ledger: Ledger, schemes: Mapping[str, SchemeDescriptor]) -> audit_rows.Workers | None:
    """Worker processes for the entitlements, when it pays (`audit_rows.start`). A mistaken number of processes is
    the user's error; a mistaken time limit is said by the check of the entitlements, as before."""
    processes = audit_rows.processes_from_env()
    try:
        timeout = guard.timeout_from_env()
    except UserError:
        return None
    try:
        return audit_rows.start(ledger, schemes, timeout, processes)
    except sqlite3.Error:  # a file the workers cannot read: the checks below say what is wrong with it
        return None


# (company, action, ref) -> (company, n, digest) of the latest entry about a thing in a company's chain; company ""
# for the frozen 0.x chain. An event (and a dispatch, `event/scheme`) is known by its company and its id.
Latest = dict[tuple[str, str, str], tuple[str, int, str]]
# some of `latest.items()`, in its order
Entries = list[tuple[tuple[str, str, str], tuple[str, int, str]]]
ENTITLEMENT_RECORDED = "entitlement.recorded"


def _entry(latest: Latest, company: str, action: str, ref: str) -> tuple[str, int, str] | None:
    """The latest entry about `ref` in the company's chain, else in the frozen 0.x chain."""
    return latest.get((company, action, ref)) or latest.get(("", action, ref))


def _step(name: str, problem: Callable[[str, str], None], check: Callable[[], None]) -> bool:
    """One check of the ledger's content; rows it cannot read are a problem of that check, the others go on.
    Whether the check went to its end."""
    try:
        check()
    except _ALTERED as exc:
        problem(name, f"holds rows paybonus did not write and cannot be checked ({type(exc).__name__})")
        return False
    return True


def _verify(
    ledger: Ledger,
    schemes: Mapping[str, SchemeDescriptor],
    params: Parameters | None,
    checkpoints: Sequence[Checkpoint],
    expect_root: str | None,
    on_progress: Callable[[int], None] | None,
    rep: Report,
    problem: _Problems,
    workers: audit_rows.Workers | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> None:
    _check_sqlite(ledger, problem)
    latest = _check_chains(ledger, rep, problem, on_progress)
    inputs = _inputs_beside(ledger, latest, pool)
    rep.heads = ledger.audit.heads()
    rep.root = merkle_root(rep.heads)
    if expect_root is not None and rep.root != expect_root:
        problem("ledger head", f"root {rep.root[:16]}… differs from the expected {expect_root[:16]}…")
    for cp in checkpoints:
        _check_checkpoint(ledger, cp, problem)
        rep.checkpoints += 1
    # the latest entries about anything but an entitlement (a seventh of them), in their order in `latest`: what
    # the checks of the events, dispatches and notices look through for one missing from its table
    others = [(key, entry) for key, entry in latest.items() if key[1] != ENTITLEMENT_RECORDED]
    _step("events", problem, lambda: _check_events(ledger, rep, latest, problem, others))
    _step("shared explanations", problem, lambda: _check_shared_explanations(ledger, problem))
    walk = Walk()
    walked = _step(
        "entitlements",
        problem,
        lambda: _check_entitlements(
            ledger, rep, latest, schemes, problem, workers, walk, len(latest) - len(others)
        ),
    )
    _step(
        "dispatches",
        problem,
        lambda: _check_dispatches(ledger, rep, latest, schemes, problem, walk if walked else None, others),
    )
    _step("payments", problem, lambda: _check_payments(ledger, latest, problem))
    _step("statements", problem, lambda: _check_notices(ledger, latest, problem, others))
    _step("inputs", problem, lambda: _inputs_found(inputs, ledger, latest, problem))
    _step("parameters", problem, lambda: _check_parameters(ledger, latest, params, problem, rep.notes))


# -- the database itself ---------------------------------------------------------------------------------------

EXPECTED_TRIGGERS = (
    "audit_log_no_update",
    "audit_log_no_delete",
    "audit_log_v1_no_insert",
    "audit_log_v1_no_update",
    "audit_log_v1_no_delete",
    "events_no_update",
    "events_no_delete",
    "entitlements_no_delete",
    "entitlements_immutable",
    "payments_no_update",
    "payments_no_delete",
    "shared_explanations_no_update",
    "shared_explanations_no_delete",
    "parameter_sets_no_update",
    "parameter_sets_no_delete",
    "company_configs_no_update",
    "company_configs_no_delete",
    "payroll_parts_no_update",
    "payroll_parts_no_delete",
    "payroll_loads_no_update",
    "payroll_loads_no_delete",
)


def _check_sqlite(ledger: Ledger, problem: Callable[[str, str], None]) -> None:
    """The schema's tables, append-only triggers and indexes (`verify` runs SQLite's integrity_check beside)."""
    expected = ledger.expected_schema()
    actual = ledger.schema()
    for name in EXPECTED_TRIGGERS:
        if actual.get(("trigger", name)) != expected.get(("trigger", name)):
            problem(
                "schema",
                f"trigger {name} is {'altered' if ('trigger', name) in actual else 'missing'}: history is not protected",
            )
    for key, sql in expected.items():
        if key[0] == "table" and actual.get(key) != sql:
            problem("schema", f"table {key[1]} is {'altered' if key in actual else 'missing'}")
        elif key[0] == "index" and actual.get(key) != sql:
            # a unique index keeps ids unique (idx_entitlements_id, the events' (id, company)); the others, the
            # reads fast: dropped, a duplicate id goes in unrefused, or a read scans the whole table
            now = actual.get(key)
            lost = _unique(sql) and (now is None or not _unique(now))
            problem(
                "schema",
                f"index {key[1]} is {'missing' if now is None else 'altered'}"
                + (": duplicates are no longer refused" if lost else ""),
            )


def _unique(definition: str) -> bool:
    return definition.upper().startswith("CREATE UNIQUE ")


# -- the chains ------------------------------------------------------------------------------------------------


def _check_chains(
    ledger: Ledger,
    rep: Report,
    problem: Callable[[str, str], None],
    on_progress: Callable[[int], None] | None,
) -> Latest:
    """Walk the frozen chain and every company's chain. Returns (company, action, ref) -> (company, n, digest) of
    the latest entry about each thing in each chain."""
    latest: Latest = {}
    prev, expected = GENESIS, 0
    for seq, at, action, ref, digest, prev_hash, hsh in ledger.audit.legacy_entries():
        latest[("", action, ref)] = ("", seq, digest)  # company "": vouched for by the 0.x chain
        expected += 1
        if seq != expected:
            problem(f"0.x chain seq {seq}", f"sequence broken (expected seq {expected}: a row was removed)")
            expected = seq
        if prev_hash != prev or legacy_chain_hash(prev_hash, seq, at, action, ref, digest) != hsh:
            problem(f"0.x chain seq {seq}", f"entry altered or chain broken ({action} {ref})")
        prev = hsh
    legacy_head = prev
    ledger_id = ledger.audit.ledger_id()
    # the keys and values of `latest` share one str of each company and of each action, not a fresh one from each
    # of a million rows (the verifier's memory)
    actions: dict[str, str] = {}
    company, n, prev = "", 0, ""
    entries = rep.entries
    sha256 = hashlib.sha256  # `chain_hash`, written out in the loop (a call less for each of a million rows)
    try:
        for e_company, e_n, at, action, ref, digest, prev_hash, hsh in ledger.audit.entry_tuples():
            entries += 1
            if e_company != company:
                company, n, prev = e_company, 0, genesis(ledger_id, e_company)
            action = actions.setdefault(action, action)
            n += 1
            if e_n != n:
                problem(
                    f"{company} chain entry {e_n}",
                    f"position broken (expected entry {n}: an entry was removed)",
                )
                n = e_n
            if prev_hash != prev:
                problem(
                    f"{company} chain entry {e_n}",
                    "prev_hash does not match the previous entry's hash (chain broken)",
                )
            if (
                sha256(f"{prev_hash}|{company}|{e_n}|{at}|{action}|{ref}|{digest}".encode()).hexdigest()
                != hsh
            ):  # chain_hash(prev_hash, company, e_n, at, action, ref, digest)
                problem(
                    f"{company} chain entry {e_n}",
                    f"hash does not match the entry's content ({action} {ref}): entry altered",
                )
            if e_n == 1 and (action != OPENED or digest != legacy_head):
                problem(f"{company} chain entry {e_n}", "the chain does not open on the 0.x chain's head")
            prev = hsh
            latest[(company, action, ref)] = (company, e_n, digest)
            if on_progress and entries % 10000 == 0:
                on_progress(entries)
    finally:  # counted as far as the rows could be read
        rep.entries = entries
    return latest


def _check_checkpoint(ledger: Ledger, cp: Checkpoint, problem: Callable[[str, str], None]) -> None:
    where = f"checkpoint {cp.source or cp.created_at}"
    if cp.ledger_id != ledger.audit.ledger_id():
        problem(where, f"is for ledger {cp.ledger_id}, not this one ({ledger.audit.ledger_id()})")
        return
    for company, head in sorted(cp.heads.items()):
        found = ledger.audit.entry(company, head.n)
        if found is None:
            problem(where, f"{company}'s chain no longer reaches entry {head.n}: entries were removed")
        elif found.hash != head.hash:
            problem(
                where, f"{company}'s chain entry {head.n} differs from the checkpoint: history was rewritten"
            )


# -- what the chains vouch for ----------------------------------------------------------------------------------


def _check_events(
    ledger: Ledger,
    rep: Report,
    latest: Latest,
    problem: Callable[[str, str], None],
    others: Entries,
) -> None:
    """Each event against its chain entry; `others`: the entries of `latest` that are not about an
    entitlement."""
    last_n: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()  # (company, id)
    for row in ledger.events.stream():
        rep.events += 1
        eid = row["id"]
        seen.add((row["company"], eid))
        where = f"event {eid} ({row['company']})"
        try:
            payload = json_loads(row["payload"])  # json's very value (by orjson where it gives the same)
        except ValueError:
            problem(where, "its stored payload is not JSON (altered)")
            continue
        content = {k: row[k] for k in ("id", "type", "company", "occurred_at")} | {"payload": payload}
        actual = hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
        entry = _entry(latest, row["company"], "event.recorded", eid)
        if entry is None:
            problem(where, "has no audit entry (inserted outside paybonus)")
            continue
        if actual != row["digest"] or row["digest"] != entry[2] or entry[0] not in (row["company"], ""):
            problem(where, "content differs from its audit entry (altered)")
        if entry[0]:  # in a company chain: events come in the order the chain recorded them
            if entry[1] <= last_n.get(entry[0], 0):
                problem(where, "recorded out of the order of its company's chain (events reordered)")
            last_n[entry[0]] = entry[1]
    ids = {eid for _, eid in seen}
    for (company, action, ref), (_, n, _) in others:
        if action == "event.recorded" and ((company, ref) not in seen if company else ref not in ids):
            problem(f"{company or '0.x'} chain entry {n}", f"event {ref} is missing from the events table")


def _check_shared_explanations(ledger: Ledger, problem: Callable[[str, str], None]) -> None:
    """Each shared explanation part is kept under the sha256 of its text (the entitlements' digests cover it)."""
    ledger.entitlements.forget_shared()
    for key, body in ledger.entitlements.shared_parts():
        if shared_hash(body) != key:
            problem(f"shared explanation {key[:16]}", "its text was altered (it no longer has this hash)")


def _check_entitlements(
    ledger: Ledger,
    rep: Report,
    latest: Latest,
    schemes: Mapping[str, SchemeDescriptor],
    problem: Callable[[str, str], None],
    workers: audit_rows.Workers | None = None,
    walk: Walk | None = None,
    entitlement_entries: int | None = None,
) -> None:
    """Each entitlement against its chain entry, its amount recomputed; then each chain entry about an
    entitlement that is not in the table. `entitlement_entries`: how many keys of `latest` are about an
    entitlement, if known."""
    seen: set[str] = set()
    hung: set[str] = set()
    timeout = guard.timeout_from_env()
    walk = walk or Walk()
    with guard.session():
        _recompute_all(ledger, rep, latest, schemes, problem, seen, hung, timeout, workers, walk)
    if (  # every row has its own entry (ids all different: entries all different) and there are no others
        entitlement_entries is not None
        and len(seen) == rep.entitlements
        and rep.entitlements - walk.unmatched == entitlement_entries
    ):
        return
    for (_, action, ref), (company, n, _) in latest.items():
        if action == ENTITLEMENT_RECORDED and ref not in seen:
            company = company or "0.x"
            problem(f"{company} chain entry {n}", f"entitlement {ref} is missing from the entitlements table")


Key = tuple[int, str, str, str, str, str]  # seq, id, scheme, company, digest, event_id
# (company, event id, scheme) -> ids of the dispatch's entitlements, in `seq` order
DispatchIds = dict[tuple[str, str, str], list[str]]


@define
class Walk:
    """What the walk of the entitlements read for the dispatches' check: the ids of each dispatch's rows, and the
    last `seq` it read."""

    ids: DispatchIds = field(factory=dict)
    last: int | None = None
    unmatched: int = 0  # rows that have no chain entry

    def every_id(self, ledger: Ledger) -> DispatchIds | None:
        """Every dispatch's ids, if no row was recorded since the walk (the table is append-only; a dispatch's
        rows are recorded with it): a dispatch read before this call and not there has none. Else None."""
        if self.last is None or ledger.entitlements.any_after(self.last):
            return None
        return self.ids


def _recompute_all(
    ledger: Ledger,
    rep: Report,
    latest: Latest,
    schemes: Mapping[str, SchemeDescriptor],
    problem: Callable[[str, str], None],
    seen: set[str],
    hung: set[str],
    timeout: float | None,
    workers: audit_rows.Workers | None,
    walk: Walk,
) -> None:
    """Every entitlement's amount recomputed from its explanation, by its scheme as a guest (time limit), and
    each digest re-derived from the columns as stored (`paybonus.audit_rows`: by runs of rows of a scheme, in
    worker processes on a large ledger); then each row, in `seq` order, checked against its chain entry. `walk`
    gets the ids of each dispatch's rows, in `seq` order."""
    parts = ledger.entitlements
    recomputes = {name: s.recompute for name, s in schemes.items()}
    here_hung: set[str] = set()  # schemes that hung in this process's own slices
    explanation_of = parts.explained
    ids = walk.ids

    def merge(
        keys: Sequence[Key], found: audit_rows.Outcomes, row_of: Callable[[int], tuple[Any, ...]]
    ) -> None:
        run: tuple[Any, ...] = _NO_RUN  # the dispatch whose rows are walked (its rows follow one another)
        of_run: list[str] = []
        if keys:
            walk.last = keys[-1][0]
        seen.update(map(_ID, keys))  # (if a row stops the check, the entries are not looked through)
        for seq, eid, scheme_name, company, stored, event_id in keys:
            rep.entitlements += 1
            if event_id != run[1] or scheme_name != run[2] or company != run[0]:
                run = (company, event_id, scheme_name)
                of_run = ids.setdefault(run, [])
            of_run.append(eid)
            entry = latest.get((company, "entitlement.recorded", eid)) or latest.get(
                ("", "entitlement.recorded", eid)
            )
            if (  # the common case, plainly right: what the lines below conclude for it, without their steps
                entry is not None
                and seq not in found
                and stored == entry[2]
                and scheme_name in schemes
                and scheme_name not in hung
            ):
                rep.recomputed += 1
                continue
            where = f"entitlement {eid} (row {seq})"
            if entry is None:
                problem(where, "has no audit entry (inserted outside paybonus)")
                walk.unmatched += 1
                continue
            bad, outcome = found.get(seq, _PLAIN)
            if bad or stored != entry[2]:
                problem(where, "content differs from its audit entry (altered)")
            if scheme_name not in schemes:
                problem(where, f"cannot recompute: scheme {scheme_name!r} is not installed")
                continue
            if scheme_name in hung:
                problem(where, f"not recomputed: scheme {scheme_name!r}'s recompute did not return earlier")
                continue
            # its scheme hung before it in a slice: recomputed here, alone (compared by value: a worker's outcome
            # comes unpickled, a copy of SKIPPED)
            if outcome == audit_rows.SKIPPED:
                outcome = audit_rows.outcomes([row_of(seq)], recomputes, explanation_of, set(), timeout).get(
                    seq, _PLAIN
                )[1]
            kind = outcome[0]
            if kind == "ok":
                rep.recomputed += 1
            elif kind == "amount":
                rep.recomputed += 1
                problem(
                    where,
                    f"amount {outcome[2]} cents differs from {outcome[1]} recomputed from its explanation",
                )
            elif kind == "timeout":  # a guest that hangs: once, not once per entitlement
                hung.add(scheme_name)
                here_hung.add(scheme_name)
                problem(where, outcome[1])
            elif kind == "exit":
                problem(where, outcome[1])
            elif kind in ("error", "parse"):  # a broken explanation is a finding, not a crash of the verifier
                problem(where, f"cannot recompute from its explanation ({outcome[1]})")
            elif kind == "shared":
                problem(
                    where, "cannot recompute: the explanation part it shares with its dispatch is missing"
                )
            else:  # "abort": rows paybonus never wrote; the check of the entitlements stops here
                raise outcome[1]()

    if workers is None:
        for part, found in audit_rows.in_slices(
            parts.tuples(), recomputes, explanation_of, here_hung, timeout
        ):
            by_seq = {r[_T_SEQ]: r for r in part}
            merge([_key(r) for r in part], found, by_seq.__getitem__)
            here_hung |= hung
        return
    conn = ledger.conn
    for i, (lo, hi) in enumerate(workers.slices):
        there = workers.result(i)
        if there is not None and (hi is not None or not ledger.entitlements.any_after(max(there[1], lo - 1))):
            # the rows as its worker read them (none recorded since in the last slice, the only open one)
            merge(there[3], there[2], lambda seq: next(iter(tuples_in(conn, seq, seq + 1))))
            continue
        # its worker failed, or saw other rows (written since): the slice is recomputed here
        for part, found in audit_rows.in_slices(
            tuples_in(conn, lo, hi), recomputes, explanation_of, here_hung, timeout
        ):
            by_seq = {r[_T_SEQ]: r for r in part}
            merge([_key(r) for r in part], found, by_seq.__getitem__)
            here_hung |= hung


_PLAIN: tuple[bool, audit_rows.Outcome] = (False, audit_rows.OK)
_NO_RUN = (object(), object(), object())  # equal to no (company, event id, scheme)
_T_SEQ, _T_ID, _T_SCHEME, _T_COMPANY, _T_AMOUNT, _T_DIGEST, _T_EVENT = (
    audit_rows.T_SEQ,
    audit_rows.T_ID,
    audit_rows.T_SCHEME,
    audit_rows.T_COMPANY,
    audit_rows.T_AMOUNT,
    audit_rows.T_DIGEST,
    audit_rows.T_EVENT,
)


_ID = itemgetter(1)  # a Key's id


def _key(row: tuple[Any, ...]) -> Key:
    return (row[_T_SEQ], row[_T_ID], row[_T_SCHEME], row[_T_COMPANY], row[_T_DIGEST], row[_T_EVENT])


def _check_dispatches(
    ledger: Ledger,
    rep: Report,
    latest: Latest,
    schemes: Mapping[str, SchemeDescriptor],
    problem: Callable[[str, str], None],
    walk: Walk | None,
    others: Entries,
) -> None:
    """Each dispatch against its chain entry. The ids of its entitlements: as the walk of the entitlements read
    them (`walk`, if it went to its end), else by a query for each. `others`: as `_check_events` takes them."""
    done: dict[tuple[str, str], set[str]] = {}  # (company, event id) -> schemes
    findings = _findings_by_dispatch(ledger)
    rows = ledger.dispatches.all()
    ids = (
        None if walk is None else walk.every_id(ledger)
    )  # after the rows: each has its rows in the walk, or none
    for row in rows:
        rep.dispatches += 1
        company = row["company"]
        ref = f"{row['event_id']}/{row['scheme']}"
        where = f"dispatch {ref} ({company})"
        done.setdefault((company, row["event_id"]), set()).add(row["scheme"])
        action = f"dispatch.{row['status']}"
        entry = _entry(latest, company, action, ref)
        other = _entry(
            latest, company, "dispatch.failed" if row["status"] == "completed" else "dispatch.completed", ref
        )
        if entry is None or (other is not None and other[0] == entry[0] and other[1] > entry[1]):
            problem(where, f"its {row['status']} state has no audit entry (altered)")
        elif (
            entry[0]
            and ledger.dispatch_digest(
                company,
                row["event_id"],
                row["scheme"],
                row,
                None if findings is None else findings.get((company, row["event_id"], row["scheme"]), []),
                None if ids is None else ids.get((company, row["event_id"], row["scheme"]), []),
            )
            != entry[2]
        ):
            problem(where, "its row, findings or entitlements differ from its audit entry (altered)")
        if row["status"] == "failed":
            problem(where, f"failed after {row['attempts']} attempt(s): run `paybonus retry`")
    for (company, action, ref), (_, n, _) in others:
        if (
            company
            and action.startswith("dispatch.")
            and ref.rsplit("/", 1)[1] not in done.get((company, ref.rsplit("/", 1)[0]), ())
        ):
            problem(f"{company} chain entry {n}", f"dispatch {ref} is missing from the dispatches table")
    # an event's schemes that have no dispatch of it, then whether its company configures them (its configuration
    # parsed once, when first needed: never on a ledger whose every event has each of its dispatches), then whether
    # they were in force when it was recorded (the chains' configurations read once, when first needed)
    configs: dict[str, set[str]] = {}
    in_force: SchemesInForce | None = None  # a scheme a later load added owes the earlier events nothing
    handled = [(name, s.handlers) for name, s in schemes.items()]
    for event_id, event_type, company in ledger.events.kinds():
        ran = done.get((company, event_id), ())
        for name, handlers in handled:
            if event_type not in handlers or name in ran:
                continue
            if company not in configs:
                configs[company] = _configured(ledger, company)
            if name not in configs[company]:
                continue
            if in_force is None:
                in_force = SchemesInForce(ledger)
            if in_force.owes(company, event_id, name):
                problem(
                    f"dispatch {event_id}/{name} ({company})",
                    "never ran (an interrupted publish): run `paybonus retry`",
                )


def _configured(ledger: Ledger, company: str) -> set[str]:
    """The schemes the company's configuration names (none if it has none, or if it does not parse)."""
    toml = ledger.companies.toml(company)
    try:
        return set(parse_company_toml(toml, company).schemes) if toml else set()
    except UserError:
        return set()


def _findings_by_dispatch(ledger: Ledger) -> dict[tuple[str, str, str], list[list[Any]]] | None:
    """(company, event id, scheme) -> [level, rule, message, employee] of each of its findings, in the order they
    were written: every finding read at once (a SQLite ledger) instead of a query for each dispatch."""
    if ledger.server is not None:
        return None
    return findings_by_dispatch(ledger.conn)


def _check_payments(ledger: Ledger, latest: Latest, problem: Callable[[str, str], None]) -> None:
    """Every payment row matches its recorded event, and every status follows from the payments."""
    events: dict[tuple[str, str], tuple[object, ...]] = {}  # (company, event id) -> what it paid
    for row in ledger.events.by_type("payment_recorded"):
        try:
            p = json.loads(row["payload"])
        except ValueError:
            p = None
        if not isinstance(p, dict):  # reported as altered by the events' own check
            p = {}
        events[(row["company"], row["id"])] = (
            p.get("entitlement"),
            p.get("amount_cents"),
            p.get("paid_on"),
            p.get("mode"),
        )
    for r in ledger.payments.all():
        made = (r["entitlement"], r["amount_cents"], r["paid_on"], r["mode"])
        if events.pop((r["company"], r["event_id"]), None) != made:
            problem(f"payment row {r['seq']}", f"differs from its event {r['event_id']} (altered)")
    for company, event_id in events:
        problem(f"event {event_id} ({company})", "payment event without its payment row")
    paid = ledger.payments.totals_by_mode()
    for eid, amount, status in ledger.entitlements.statuses(unless_due_unpaid=True):
        if status == "due" and eid not in paid:  # what `status_of` gives without payments
            continue
        expected = status_of(amount, paid.get(eid, {}))
        if status != expected:
            problem(
                f"entitlement {eid}", f"status {status!r} does not follow from its payments ({expected!r})"
            )


def _check_notices(
    ledger: Ledger, latest: Latest, problem: Callable[[str, str], None], others: Entries
) -> None:
    notices = {(a, r): v for (_, a, r), v in others if a.startswith("deadline.")}  # entitlement ids: global
    for ent, kind, noticed_on in ledger.payments.notices():
        entry = notices.get((f"deadline.{kind}", ent))
        if entry is None or entry[2] != digest_of({"as_of": noticed_on}):
            problem(f"deadline notice {kind} {ent}", "differs from its audit entry (altered)")


Found = tuple[
    list[tuple[str, str]], Exception | None
]  # problems found, and the exception that stopped the check


def _inputs_beside(ledger: Ledger, latest: Latest, pool: ThreadPoolExecutor | None) -> Future[Found] | None:
    """The check of the inputs (mostly SQLite re-reading the pay lines, which lets go of the GIL), started in a
    thread on a read-only connection of its own, beside the checks that come before it (a SQLite ledger)."""
    if pool is None or ledger.server is not None:
        return None

    def run() -> Found:
        found: list[tuple[str, str]] = []
        conn = read_only(ledger.path)
        try:
            _check_inputs(Companies(conn), latest, lambda where, what: found.append((where, what)))
        except Exception as exc:  # said where the check would have run (`_inputs_found`)
            return found, exc
        finally:
            conn.close()
        return found, None

    return pool.submit(run)


def _inputs_found(
    beside: Future[Found] | None, ledger: Ledger, latest: Latest, problem: Callable[[str, str], None]
) -> None:
    """The problems of the inputs, in their place among the others, as if the check ran here."""
    if beside is None:
        _check_inputs(ledger.companies, latest, problem)
        return
    found, stopped = beside.result()
    for where, what in found:
        problem(where, what)
    if stopped is not None:
        raise stopped


def _check_inputs(companies: Companies, latest: Latest, problem: Callable[[str, str], None]) -> None:
    """Configuration versions and payroll loads: each kept version re-derived, and the tables that hold the
    current payroll equal to the company's last load."""
    for company in companies.ids():
        toml = companies.toml(company) or ""
        current = sha256(toml.encode("utf-8"))
        entry = _entry(latest, company, "config.loaded", company)
        if entry is None or entry[2] != current or companies.digest(company) != current:
            problem(f"company {company}", "its configuration differs from the last one loaded (altered)")
        for digest, text in companies.config_versions(company):
            if sha256(text.encode("utf-8")) != digest:
                problem(f"company {company}", f"configuration version {digest[:12]} was altered")
        for part, digest, blob in companies.stored_parts(company):
            try:
                actual = sha256(zlib.decompress(blob))
            except zlib.error:
                actual = ""
            if actual != digest:
                problem(f"company {company}", f"kept payroll part {part} {digest[:12]} was altered")
        loads = companies.loads(company)
        for load in loads:
            listed = json.loads(load["parts"])
            derived = load_digest(company, load["n"], load["config_digest"], listed)
            entry = _entry(latest, company, "payroll.loaded", f"{company}/{load['n']}")
            if derived != load["digest"] or entry is None or entry[2] != derived:
                problem(
                    f"company {company}", f"payroll load {load['n']} differs from its audit entry (altered)"
                )
        if loads:
            recorded = dict(json.loads(loads[-1]["parts"]))
            now = companies.current_parts(company, expected=recorded)
            for part in sorted(set(recorded) | set(now)):
                if recorded.get(part) != now.get(part):
                    problem(
                        f"company {company}",
                        f"payroll {part} differs from load {loads[-1]['n']} (rows altered, added or removed)",
                    )


def _check_parameters(
    ledger: Ledger,
    latest: Latest,
    params: Parameters | None,
    problem: Callable[[str, str], None],
    notes: list[Problem],
) -> None:
    """Kept parameter sets re-derived (an altered one is a problem); and whether the parameters in force now still
    say what amounts were computed from: a value changed or removed since is a note (those amounts follow from
    the law as it was known then; `recomputation_requested` records corrections)."""
    used = {d for d in ledger.dispatches.params_used() if d}
    for digest, document in ledger.parameter_sets():
        if hashlib.sha256(canonical_json(json.loads(document)).encode("utf-8")).hexdigest() != digest:
            problem(f"parameter set {digest[:12]}", "altered since it was recorded")
            continue
        used.discard(digest)
        if params is not None and digest != params.digest():
            recorded = Parameters.from_document(json.loads(document))
            changes = params.changes_from(recorded)
            for line in changes[:5]:
                notes.append(
                    Problem(
                        f"parameters {digest[:12]}", f"changed since amounts were computed with them: {line}"
                    )
                )
            if len(changes) > 5:
                notes.append(Problem(f"parameters {digest[:12]}", f"and {len(changes) - 5} more changes"))
    for digest in sorted(used):
        problem(f"parameter set {digest[:12]}", "a dispatch computed with it, but it is not kept (removed)")
