"""A NATS URL is checked in one place (`Options`) before anything connects or is made: every bad option is one
line and exit 2 from `publish --to`, `worker --source` and `health --source`, and the broker is left as it was; a
stream that exists with other subjects is refused; `health` reads and never makes; a worker fails at start when no
server answers and stops on SIGTERM while it reconnects (red team of 2026-12-01, items 6-9, 12, 17, 18, 22, 28)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from helpers.cli import run, run_here
from paybonus.errors import UserError
from paybonus.fixtures import sample_dir
from paybonus.nats_source import Options

PAYBONUS = (sys.executable, "-m", "paybonus", "--log-level", "info", "--log-format", "json")


async def _streams(url: str, tag: str, delete: bool = False) -> dict[str, list[str]]:
    """{name: subjects} of the streams whose name or subjects hold the tag (deleted when asked)."""
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        found = {s.config.name: list(s.config.subjects or []) for s in await js.streams_info()}
        mine = {
            n: subjects for n, subjects in found.items() if tag.lower() in " ".join([n, *subjects]).lower()
        }
        if delete:
            for name in mine:
                await js.delete_stream(name)
        return mine
    finally:
        await nc.close()


@pytest.fixture
def tag(nats_server):
    """A tag for this test's streams (RTA<tag>, prefix rta<tag>); they are deleted afterwards."""
    t = uuid.uuid4().hex[:10]
    yield t
    asyncio.run(_streams(nats_server.url, t, delete=True))


def streams(nats_server, tag):
    return asyncio.run(_streams(nats_server.url, tag))


def one_line(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


BAD = [
    ("stream=RTA{t}.x", "stream 'RTA{t}.x'"),
    ("stream=RTA{t}%20x", "stream 'RTA{t} x'"),
    ("stream=RTA{t}*", "stream 'RTA{t}*'"),
    ("stream=RTA{t}" + "X" * 300, "a stream name is 1-64"),
    ("stream=RTA{t}&prefix=rta{t}.>", "prefix 'rta{t}.>'"),
    ("stream=RTA{t}&prefix=a%20b", "prefix 'a b'"),
    ("stream=RTA{t}&prefix=a..b", "prefix 'a..b'"),
    ("stream=RTA{t}&ack_wait=nan", "ack_wait 'nan'"),
    ("stream=RTA{t}&ack_wait=inf", "ack_wait 'inf'"),
    ("stream=RTA{t}&ack_wait=1e12", "ack_wait '1e12'"),
    ("stream=RTA{t}&ack_wait=0.0000001", "ack_wait '0.0000001'"),
    ("stream=RTA{t}&ack_wait=86401", "ack_wait '86401'"),
    ("stream=RTA{t}&partitions=0", "partitions '0'"),
    ("stream=RTA{t}&partitions=1025", "partitions '1025'"),
    ("stream=RTA{t}&partitions=1.5", "partitions '1.5'"),
    ("stream=", "option stream is empty"),
    ("stream=RTA{t}&prefix=", "option prefix is empty"),
    ("stream=RTA{t}&stream=RTB{t}", "option stream given twice"),
    ("stream=RTA{t}&foo=1", "unknown option 'foo'"),
]


@pytest.mark.parametrize(("query", "message"), BAD)
def test_every_bad_option_is_refused_by_options(query, message):
    t = "x1"
    url = f"nats://127.0.0.1:4222?{query.format(t=t)}"
    with pytest.raises(UserError) as refused:
        Options(url)
    assert message.format(t=t) in str(refused.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nats://127.0.0.1:4222#frag?stream=X", "no '#' fragment"),
        ("nats://127.0.0.1:abc?stream=X", "server 1 of the URL: the port"),
        ("nats://127.0.0.1:99999", "server 1 of the URL: the port"),
        ("nats://?stream=X", "server 1 of the URL names no host"),
        ("nats://127.0.0.1:4222,?stream=X", "server 2 of the URL is empty"),
        ("nats://127.0.0.1:4222,http://h:1", "server 2 of the URL: the scheme"),
        ("", "empty NATS URL"),
    ],
)
def test_a_bad_server_list_is_refused_by_options(url, message):
    with pytest.raises(UserError) as refused:
        Options(url)
    assert message in str(refused.value)


def test_several_servers_are_all_kept():
    """The documented form lost every server after the first (urlsplit read `nats://n2:4222` as a path)."""
    o = Options("nats://n1:4222,nats://n2:4223,n3?stream=S&ack_wait=1&partitions=1024")
    assert o.servers == ["nats://n1:4222", "nats://n2:4223", "nats://n3"]
    assert (o.stream, o.prefix, o.partitions, o.ack_wait) == ("S", "paybonus", 1024, 1.0)
    assert Options("tls://u:p@n1:4222?ack_wait=86400").servers == ["tls://u:p@n1:4222"]


@pytest.mark.parametrize(
    ("query", "message"),
    [(q, m) for q, m in BAD if any(k in q for k in ("nan", ".x", "%20b", "stream=&", "#"))]
    + [("stream=RTA{t}#frag", "no '#' fragment"), ("stream=&prefix=rta{t}", "option stream is empty")],
)
def test_publish_worker_and_health_refuse_a_bad_option_in_one_line_and_make_nothing(
    nats_server, tag, tmp_path, query, message
):
    url = f"{nats_server.url}?{query.format(t=tag)}"
    message = message.format(t=tag)
    db = str(tmp_path / "l.db")
    assert run_here("--db", db, "init", cwd=tmp_path).returncode == 0
    one_line(run_here("publish", "--to", url, str(sample_dir() / "events.jsonl"), cwd=tmp_path), message)
    one_line(run_here("worker", "--source", url, "--db", db, cwd=tmp_path), message)
    r = run_here("health", "--source", url, "--db", db, cwd=tmp_path)
    one_line(r, message)
    assert (
        r.stdout == ""
    )  # not "the ledger or the broker does not answer" (exit 1) with the cause in the JSON
    assert streams(nats_server, tag) == {}  # nor the default PAYBONUS with this test's prefix


def test_a_stream_with_other_subjects_or_taken_subjects_is_refused_and_nothing_made(
    nats_server, tag, tmp_path
):
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    assert run("--db", str(tmp_path / "l.db"), "init", cwd=tmp_path).returncode == 0
    made = f"{nats_server.url}?stream=RTA{tag}&prefix=rta{tag}&partitions=2"
    assert run("publish", "--to", made, str(empty), cwd=tmp_path).returncode == 0
    before = streams(nats_server, tag)
    assert before == {f"RTA{tag}": [f"rta{tag}.events.>"], f"RTA{tag}_DEAD": [f"rta{tag}.dead.>"]}
    for i, (query, message) in enumerate(
        [
            (f"stream=RTA{tag}&prefix=rta{tag}b", f"stream RTA{tag} exists with subjects rta{tag}.events.>"),
            (f"stream=RTB{tag}&prefix=rta{tag}", f"are taken by stream RTA{tag}"),
            (f"stream=RTB{tag}&prefix=rta{tag}.events", f"are taken by stream RTA{tag}"),
            (f"stream=RTB{tag}&prefix=rta{tag}.dead", f"are taken by stream RTA{tag}_DEAD"),
        ]
    ):
        url = f"{nats_server.url}?{query}"
        command = run if i == 0 else run_here  # the first refusal from real processes, the others in this one
        one_line(command("publish", "--to", url, str(empty), cwd=tmp_path), message)
        one_line(command("worker", "--source", url, "--db", str(tmp_path / "l.db"), cwd=tmp_path), message)
        assert streams(nats_server, tag) == before, query
    url = f"{nats_server.url}?stream=RTA{tag}&prefix=rta{tag}b"
    r = run("health", "--source", url, "--db", str(tmp_path / "l.db"), cwd=tmp_path)
    one_line(r, "exists with subjects")


def test_health_reads_and_never_makes_a_stream(nats_server, tag, tmp_path):
    db = str(tmp_path / "l.db")
    assert run("--db", db, "init", cwd=tmp_path).returncode == 0
    url = f"{nats_server.url}?stream=RTA{tag}&prefix=rta{tag}&partitions=2"
    r = run("health", "--source", url, "--db", db, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    assert not report["ok"] and report["ledger"]["backend"] == "sqlite"
    assert report["source"]["error"].startswith(f"no such stream RTA{tag} nor RTA{tag}_DEAD")
    assert r.stderr == f"error: source: {report['source']['error']}\n"
    assert streams(nats_server, tag) == {}  # it made the stream and 16 consumers, and said ok
    (tmp_path / "none.jsonl").write_text("")
    assert run("publish", "--to", url, str(tmp_path / "none.jsonl"), cwd=tmp_path).returncode == 0
    r = run("health", "--source", url, "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["source"]["partitions"] == 2, r.stderr


def test_an_unreachable_broker_is_one_line_from_a_worker_and_exit_1_from_health(tmp_path):
    db = str(tmp_path / "l.db")
    assert run("--db", db, "init", cwd=tmp_path).returncode == 0
    url = "nats://127.0.0.1:1?stream=RTAnone"
    t0 = time.monotonic()
    r = run("worker", "--source", url, "--db", db, cwd=tmp_path)  # it retried forever, silently
    one_line(r, "cannot connect to NATS")
    assert time.monotonic() - t0 < 30
    r = run("health", "--source", url, "--db", db, cwd=tmp_path)
    assert r.returncode == 1 and "cannot connect to NATS" in json.loads(r.stdout)["source"]["error"]
    assert r.stderr.startswith("error: source: cannot connect to NATS") and r.stderr.count("\n") == 1


def test_a_worker_id_follows_the_company_id_grammar(nats_server, tag, tmp_path):
    db = str(tmp_path / "l.db")
    assert run("--db", db, "init", cwd=tmp_path).returncode == 0
    url = f"{nats_server.url}?stream=RTA{tag}&prefix=rta{tag}"
    for bad in ("x" * 5000, "evil\n\x1b[31mFAKE", "a b", ""):
        one_line(run("worker", "--source", url, "--db", db, "--id", bad, cwd=tmp_path), "--id")
    assert streams(nats_server, tag) == {}


def test_empty_urls_are_refused_and_never_mean_the_local_ledger(tmp_path):
    db = tmp_path / "l.db"
    assert run("--db", str(db), "init", cwd=tmp_path).returncode == 0
    assert run("--db", str(db), "load", str(sample_dir()), cwd=tmp_path).returncode == 0
    before = db.read_bytes()
    env = {"PAYBONUS_DB": str(db)}
    for to in ("", " "):
        r = run("publish", "--to", to, str(sample_dir() / "events.jsonl"), cwd=tmp_path, env=env)
        one_line(r, "--to: empty URL")
    one_line(run("worker", "--source", "", cwd=tmp_path, env=env), "--source: empty URL")
    one_line(run("health", "--source", "", cwd=tmp_path, env=env), "--source: empty URL")
    assert db.read_bytes() == before


@pytest.mark.slow
def test_a_worker_rides_out_an_outage_and_stops_on_sigterm_while_reconnecting(tmp_path):
    """Connected once, a worker reconnects for as long as it takes (not 3 attempts, as at start); SIGTERM while
    the server is away stops it within seconds."""
    from helpers.servers import Nats

    own = Nats(own=True)
    try:
        db = str(tmp_path / "l.db")
        assert run("--db", db, "init", cwd=tmp_path).returncode == 0
        assert run("--db", db, "load", str(sample_dir()), cwd=tmp_path).returncode == 0
        url = f"{own.url}?stream=RTAout&prefix=rtaout&partitions=2&ack_wait=2"
        (tmp_path / "none.jsonl").write_text("")
        assert run("publish", "--to", url, str(tmp_path / "none.jsonl"), cwd=tmp_path).returncode == 0
        log = open(tmp_path / "w.log", "w")  # noqa: SIM115 - closed below
        w = subprocess.Popen(
            [*PAYBONUS, "worker", "--source", url, "--db", db, "--id", "w1"],
            stdout=log,
            stderr=log,
            env={**os.environ, "PAYBONUS_PLUGINS": os.environ.get("PAYBONUS_PLUGINS", "")},
        )
        deadline = time.monotonic() + 60
        while "worker.source.ready" not in (tmp_path / "w.log").read_text():
            assert time.monotonic() < deadline and w.poll() is None, (tmp_path / "w.log").read_text()
            time.sleep(0.2)
        own.stop(keep=True)
        time.sleep(4)  # well past the 3 attempts a first connection gets
        own.start()
        r = run("publish", "--to", url, str(sample_dir() / "events.jsonl"), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 90
        while "worker.message.recorded" not in (tmp_path / "w.log").read_text():
            assert time.monotonic() < deadline and w.poll() is None, (tmp_path / "w.log").read_text()
            time.sleep(0.3)
        own.stop(keep=True)
        time.sleep(2)  # reconnecting
        t0 = time.monotonic()
        w.send_signal(signal.SIGTERM)
        assert w.wait(10) == 0
        assert time.monotonic() - t0 < 5
        log.close()
    finally:
        own.stop()
