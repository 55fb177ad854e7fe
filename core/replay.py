"""Full replay: every dispatch run again, in a scratch ledger, from what the ledger recorded it read.

The company chains are walked in the order they were written. A payroll load is stored again from its kept parts
and configuration version; an event is recorded again as it was; a completed dispatch is computed again with the
parameter set it recorded, by the scheme installed now, and its entitlements are compared with the recorded ones
(same ids, same amounts, same explanations). What paybonus 0.x recorded before the chains is copied as it is: its
inputs were not kept.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import define, field

from . import guard, payments
from .audit import Problem
from .bus import EventBus
from .config import parse_company_toml
from .host import PluginHost
from .params import Parameters
from .store import EventRecord, Ledger
from .store.companies import ABSENCES, CONTRACTS, PAY
from .store.verify_reads import amounts_of_dispatch


@define
class ReplayReport:
    dispatches: int = 0
    amounts: int = 0
    problems: list[Problem] = field(factory=list)


def replay(
    ledger: Ledger,
    host: PluginHost,
    timeout: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_problems: int = 50,
) -> ReplayReport:
    rep = ReplayReport()

    def problem(where: str, what: str) -> None:
        if len(rep.problems) < max_problems:
            rep.problems.append(Problem(where, what))

    sets: dict[str, Parameters] = {}
    with tempfile.TemporaryDirectory(prefix="paybonus-replay-") as tmp:
        # deleted after: its checkpoints do not wait for the disk (a sixth of the replay's time)
        scratch = Ledger.create(Path(tmp) / "replay.db").throwaway()
        bus = EventBus(scratch, host, timeout=timeout)
        try:
            scratch.seed_for_replay(ledger)
            with guard.session():
                for action, company, ref, at in ledger.audit.actions_in_order():
                    if action == "payroll.loaded":
                        _load(ledger, scratch, company, int(ref.rsplit("/", 1)[1]), at)
                    elif action == "event.recorded":
                        _record(ledger, bus, company, ref, at)
                    elif action == "dispatch.completed":
                        _dispatch(ledger, bus, host, sets, company, ref, rep, problem)
                        if on_progress:
                            on_progress(rep.dispatches)
        finally:
            bus.close()
            scratch.close()
    return rep


def _load(ledger: Ledger, scratch: Ledger, company: str, n: int, at: str) -> None:
    load = ledger.companies.load(company, n)
    assert load is not None  # verify names a missing load; replay follows the chain
    toml = ledger.companies.config_version(company, load["config_digest"]) or ""
    # each part read as tuples, its decoded lists dropped before the next is read (a year of 200 000 people is 2.4
    # million pay lines: one copy of them held, not two)
    parts: dict[str, list[tuple[Any, ...]]] = {CONTRACTS: [], PAY: [], ABSENCES: []}
    # each text once: an employee's id is in twelve months, a month in every line of it
    one: dict[Any, Any] = {}
    same = one.setdefault
    for part, digest in json.loads(load["parts"]):
        rows = parts.get(PAY if part.startswith(PAY) else part)
        if rows is None:  # no part of the payroll tables: not stored again, as before
            continue
        rows.extend(
            tuple([same(v, v) if v.__class__ is str else v for v in r])  # texts only: 1 == True == 1.0
            for r in ledger.companies.part_rows(company, part, digest)
        )
    name = parse_company_toml(toml, f"company {company} (kept)").info.name
    scratch.store_company(company, name, toml, parts[CONTRACTS], parts[PAY], parts[ABSENCES], at)


def _record(ledger: Ledger, bus: EventBus, company: str, event_id: str, at: str) -> None:
    row = ledger.events.get(company, event_id)
    assert row is not None  # verify names a missing event; replay follows the chain
    # a type no installed plugin reads is kept as recorded (its schemes' dispatches are reported); any other event
    # is read as publishing read it, and a stored payload that no longer parses fails the replay as before
    known = row["type"] in bus.host.event_types
    payment = payments.payment_of(bus.event_from_row(row)) if known else None
    record = EventRecord(
        row["id"],
        row["type"],
        row["company"],
        row["occurred_at"],
        row["payload"],
        row["digest"],
        row["employee"],
        row["entitlement"],
    )
    bus.ledger.record_event(record, payment, at)


def _dispatch(
    ledger: Ledger,
    bus: EventBus,
    host: PluginHost,
    sets: dict[str, Parameters],
    company: str,
    ref: str,
    rep: ReplayReport,
    problem: Callable[[str, str], None],
) -> None:
    event_id, scheme_name = ref.rsplit("/", 1)
    where = f"replay of dispatch {ref} ({company})"
    row = ledger.dispatches.get(company, event_id, scheme_name)
    scheme = host.schemes.get(scheme_name)
    if row is None or scheme is None:
        problem(
            where,
            "the dispatch row is missing" if row is None else f"scheme {scheme_name!r} is not installed",
        )
        return
    digest = row["params_digest"]
    if digest not in sets:
        document = ledger.parameter_set(digest)
        if document is None:
            problem(where, f"its parameter set {str(digest)[:12]} is not kept")
            return
        sets[digest] = Parameters.from_document(json.loads(document))
    bus.params = sets[digest]
    event = bus.event_from_row(ledger.events.get(company, event_id))
    outcome = bus.dispatch_again(event, scheme)
    rep.dispatches += 1
    if outcome.status != "completed":
        problem(where, f"failed when run again: {outcome.error}")
        return
    # only what is compared (amount and digest, the digest covering every other column), not whole rows
    before = amounts_of_dispatch(ledger.entitlements.conn, company, event_id, scheme_name)
    after = amounts_of_dispatch(bus.ledger.entitlements.conn, company, event_id, scheme_name)
    rep.amounts += len(before)
    note = (
        ""
        if row["scheme_version"] == scheme.version
        else f" (recorded by {scheme_name} {row['scheme_version']}, installed {scheme.version})"
    )
    for eid in sorted(set(before) | set(after)):
        b, a = before.get(eid), after.get(eid)
        if b is None:
            problem(where, f"gives {eid} ({_cents(a)}) that was never recorded{note}")
        elif a is None:
            problem(
                where,
                f"no longer gives {eid} ({_cents(b)}): it was recorded without following from its inputs{note}",
            )
        elif b[0] != a[0]:
            problem(where, f"{eid}: recorded {b[0]} cents, {a[0]} from its recorded inputs{note}")
        elif b[1] != a[1]:
            problem(where, f"{eid}: same amount, but its explanation or dates differ from its inputs'{note}")


def _cents(row: tuple[int, str] | None) -> str:
    return f"{row[0] if row else '?'} cents"
