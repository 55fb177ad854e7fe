"""A worker's message reads its company's payroll load time once (`Populations.loads_held`)."""

from types import SimpleNamespace

from paybonus.caches import Populations


class _Reader:
    def __init__(self) -> None:
        self.asked = 0
        self.at = "t1"

    def loaded_at(self, company: str) -> str:
        self.asked += 1
        return self.at


class _Host:
    def payroll_source(self, company, reader):
        return SimpleNamespace(
            population=lambda cid, period: SimpleNamespace(employees=[cid, period, reader.at])
        )


def test_the_load_time_is_read_once_while_held_and_at_every_population_outside():
    pops, reader, host = Populations(), _Reader(), _Host()
    company = SimpleNamespace(id="ACME")
    pops.population(host, reader, company, "2026")
    pops.population(host, reader, company, "2026")
    assert reader.asked == 2  # outside: read every time (another process may load the payroll)
    with pops.loads_held():
        with pops.loads_held():  # re-entrant
            first = pops.population(host, reader, company, "2026")
            pops.population(host, reader, company, "2025")
        assert pops.population(host, reader, company, "2026") is first
    assert reader.asked == 3
    reader.at = "t2"  # a new load, after the hold: seen
    assert pops.population(host, reader, company, "2026") is not first
    assert reader.asked == 4


def test_a_worker_on_sqlite_sees_a_payroll_loaded_between_two_events_of_a_message(tmp_path, monkeypatch):
    """On SQLite a worker's hold takes no lock: another process may load the company between two events of one
    message, and the second must be computed from the new payroll (found by a review: with the load time read
    once a message, E0002's intéressement was computed from the payroll the load had replaced)."""
    import shutil

    from paybonus import Paybonus, load_plugins
    from paybonus.bus import EventBus
    from paybonus.fixtures import sample_dir
    from paybonus.hooks import Delivery
    from paybonus.worker import Worker

    db, changed = tmp_path / "ledger.db", tmp_path / "changed"
    shutil.copytree(sample_dir(), changed)
    for f in (changed / "payroll").glob("*.csv"):  # E0002's pay three times over, every month
        rows = []
        for line in f.read_text().splitlines():
            if line.startswith("E0002,"):
                c = line.split(",")
                c[1], c[2] = f"{float(c[1]) * 3:.2f}", f"{float(c[2]) * 3:.2f}"
                line = ",".join(c)
            rows.append(line)
        f.write_text("\n".join(rows) + "\n")
    lines = (sample_dir() / "events.jsonl").read_text().splitlines()

    def amounts(path, load_between):
        with Paybonus.create(path) as app:
            app.load_company(sample_dir())
            app.publish([app.host.event_types.from_json(x) for x in lines[:21]])
        original, seen = EventBus._publish_one, []

        def publish_one(self, event):
            if seen and load_between:
                with Paybonus.open(path) as other:
                    other.load_company(changed)
            seen.append(event.id)
            return original(self, event)

        monkeypatch.setattr(EventBus, "_publish_one", publish_one)
        worker = Worker(str(path), load_plugins(entry_points=False), source="test")
        try:
            worker.handle(Delivery((lines[21] + "\n" + lines[23]).encode(), "t.events.0.DURAND", "m1"))
        finally:
            worker.close()
            monkeypatch.setattr(EventBus, "_publish_one", original)
        assert len(seen) == 2
        with Paybonus.open(path) as app:
            return dict(
                app.ledger.conn.execute(
                    "SELECT employee, amount_cents FROM entitlements WHERE event_id = 'DURAND-results-2025' "
                    "AND scheme = 'interessement'"
                ).fetchall()
            )

    # the reference: the new payroll loaded before the message
    with Paybonus.create(tmp_path / "ref.db") as app:
        app.load_company(sample_dir())
        app.publish([app.host.event_types.from_json(x) for x in lines[:21]])
        app.load_company(changed)
    reference_path = tmp_path / "ref.db"
    worker = Worker(str(reference_path), load_plugins(entry_points=False), source="test")
    try:
        worker.handle(Delivery((lines[21] + "\n" + lines[23]).encode(), "t.events.0.DURAND", "m1"))
    finally:
        worker.close()
    with Paybonus.open(reference_path) as app:
        expected = dict(
            app.ledger.conn.execute(
                "SELECT employee, amount_cents FROM entitlements WHERE event_id = 'DURAND-results-2025' "
                "AND scheme = 'interessement'"
            ).fetchall()
        )
    got = amounts(db, load_between=True)
    assert got and got == expected
