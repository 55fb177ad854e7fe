"""`paybonus notice verify`: a statement's seal is derived from its content, which the file carries; a changed
content, a changed printed amount, a seal alone, another statement's seal or a changed ledger are all found."""

import hashlib
import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from helpers.statements import sample_ledger
from paybonus import Paybonus
from paybonus.calendar import Period
from paybonus.errors import UserError
from paybonus.events import Event, ResultsPublished
from paybonus.statements import verify_file
from paybonus.statements.content import canonical
from paybonus.statements.seal import html_head, seal_of


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The sample ledger and two employees' statements (HTML and PDF), made once for the module: publishing the
    year and rendering the PDFs cost seconds a test; each test works on copies (`files`)."""
    where = tmp_path_factory.mktemp("seal")
    db = sample_ledger(where / "l.db")
    with Paybonus.open(db) as app:
        built = app.statements(
            "DURAND", Period.parse("2025"), "interessement", issued_on=date(2026, 4, 15), channel="email"
        )
    by = {st.employee: st for st in built}
    for emp in ("E0001", "E0002"):
        (where / f"{emp}.html").write_text(by[emp].html(), encoding="utf-8")
        (where / f"{emp}.pdf").write_bytes(by[emp].pdf())
    return where, by


@pytest.fixture
def files(pristine, tmp_path):
    where, by = pristine
    db = Path(shutil.copy(where / "l.db", tmp_path / "l.db"))
    out = {}
    for emp in ("E0001", "E0002"):
        for ext in ("html", "pdf"):
            out[f"{emp}.{ext}"] = Path(shutil.copy(where / f"{emp}.{ext}", tmp_path / f"{emp}.{ext}"))
    return db, out, by


def check(db, path):
    with Paybonus.open(db) as app:
        return verify_file(app.ledger, path)


def test_html_and_pdf_statements_verify(files):
    db, out, _ = files
    for name in ("E0001.html", "E0001.pdf"):
        ok, line = check(db, out[name])
        assert (
            ok and "OK (not signed; 1 ledger entry, total 1\u202f773,01\u00a0€, issued 2026-04-15)" in line
        ), line


def test_a_changed_printed_amount_is_found(files):
    db, out, _ = files
    page = out["E0001.html"].read_text(encoding="utf-8")
    head, body = page.split("</head>")
    out["E0001.html"].write_text(
        head + "</head>" + body.replace("1\u202f601,02", "1\u202f701,02"), encoding="utf-8"
    )
    ok, line = check(db, out["E0001.html"])
    assert not ok and "is not printed as sealed" in line and "Montant net" in line


def test_a_changed_content_is_found(files):
    db, out, _ = files
    page = out["E0001.html"].read_text(encoding="utf-8")
    out["E0001.html"].write_text(page.replace('"cents":177301', '"cents":187301', 1), encoding="utf-8")
    ok, line = check(db, out["E0001.html"])
    assert not ok and "content was altered" in line


def test_another_statements_seal_and_content_pasted_in_is_found(files):
    db, out, _ = files
    mine = out["E0001.html"].read_text(encoding="utf-8")
    theirs = out["E0002.html"].read_text(encoding="utf-8")

    def head(page):
        return page[page.index('<meta name="paybonus-ledger"') : page.index("</head>")]

    out["E0001.html"].write_text(mine.replace(head(mine), head(theirs)), encoding="utf-8")
    ok, line = check(db, out["E0001.html"])
    assert not ok and "is not printed as sealed" in line


def test_a_seal_alone_is_not_a_statement(files):
    db, out, by = files
    out["E0001.html"].write_text(
        f'<meta name="paybonus-ledger" content="{by["E0001"].seal}">', encoding="utf-8"
    )
    ok, line = check(db, out["E0001.html"])
    assert not ok and "content is missing" in line


def test_a_pdf_with_another_seal_is_found(files):
    from pypdf import PdfReader, PdfWriter

    db, out, by = files
    writer = PdfWriter(clone_from=PdfReader(out["E0001.pdf"]))
    writer.add_metadata({"/Keywords": by["E0002"].seal})
    buf = BytesIO()
    writer.write(buf)
    out["E0001.pdf"].write_bytes(buf.getvalue())
    ok, line = check(db, out["E0001.pdf"])
    assert not ok and "content was altered" in line


def test_a_later_correction_in_the_ledger_is_reported(files):
    db, out, _ = files
    with Paybonus.open(db) as app:
        app.publish(
            [
                Event(
                    "results-2025-restated",
                    "results_published",
                    "DURAND",
                    datetime(2026, 3, 20, 9, 0, tzinfo=UTC),
                    ResultsPublished(Period.parse("2025"), {"rcai": Decimal("400000")}),
                )
            ]
        )
    ok, line = check(db, out["E0001.pdf"])
    assert ok and "a newer statement is due" in line


def test_a_statement_sealed_before_the_content_seal_still_verifies(files, tmp_path):
    db, _, by = files
    (eid, digest), total = by["E0001"].content["entries"][0], 177301
    h = hashlib.sha256(f"{eid}={digest}".encode() + f"|{total}".encode()).hexdigest()
    seal = f"paybonus-seal-v1;DURAND;interessement;E0001;2025-01-01..2025-12-31;{total};{eid}={digest};{h}"
    old = tmp_path / "old.html"
    old.write_text(f'<html><head><meta name="paybonus-ledger" content="{seal}"></head></html>')
    ok, line = check(db, old)
    assert ok and "OK (1 ledger entry, total 1\u202f773,01\u00a0€)" in line
    old.write_text(old.read_text().replace(f";{total};", f";{total + 100};"))
    ok, line = check(db, old)
    assert not ok and "seal was altered" in line


def test_a_file_without_a_seal_is_a_users_mistake(tmp_path, files):
    db, _, _ = files
    junk = tmp_path / "junk.html"
    junk.write_text("<html>nothing</html>")
    with pytest.raises(UserError, match="no paybonus seal"):
        check(db, junk)


# -- the tamper checks, one by one: a content changed and hashed again (a v2 seal is a hash anyone can compute) ---


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """A ledger and E0001's HTML statement and content, shared read-only by the tamper cases."""
    tmp = tmp_path_factory.mktemp("tamper")
    db = sample_ledger(tmp / "l.db")
    with Paybonus.open(db) as app:
        (st,) = app.statements(
            "DURAND",
            Period.parse("2025"),
            "interessement",
            issued_on=date(2026, 4, 15),
            channel="email",
            employee="E0001",
        )
        page = st.html()
    return db, page, canonical(dict(st.content)).decode("utf-8")


def resealed(page: str, content: dict, seal: str | None = None) -> str:
    """The page with `content` in its head, sealed with `seal` (default: its v2 hash, as anyone can compute)."""
    start, end = page.index('<meta name="paybonus-ledger"'), page.index("</head>")
    return page[:start] + html_head(content, seal or seal_of(content)) + page[end:]


def _entry(i: int, value: str):
    def change(c: dict) -> None:
        c["entries"][0][i] = value

    return change


def _total(c: dict) -> None:
    next(line for line in c["lines"] if line["key"] == "total")["cents"] += 100


TAMPERED = {
    "an entry the ledger does not hold": (_entry(0, "ENT-nope"), "entitlement ENT-nope is not in the ledger"),
    "an entry's digest": (_entry(1, "0" * 64), "differs from the ledger (digest)"),
    "another employee's name on the entry": (
        lambda c: c["employee"].update(id="E0002"),
        "belongs to another statement",
    ),
    "a total the ledger does not give": (
        _total,
        "total 1\u202f774,01\u00a0€ differs from the ledger's 1\u202f773,01\u00a0€",
    ),
    "a format of another version": (
        lambda c: c.update(format="paybonus-statement-v0"),
        "unknown statement format",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_content_changed_and_hashed_again_is_found_against_the_ledger(issued, tmp_path, case):
    db, page, text = issued
    content = json.loads(text)  # each case changes its own copy
    change, words = TAMPERED[case]
    f = tmp_path / "st.html"
    f.write_text(resealed(page, content), encoding="utf-8")
    assert check(db, f)[0]  # the page as issued, sealed again by the test, verifies
    change(content)
    f.write_text(resealed(page, content), encoding="utf-8")
    ok, line = check(db, f)
    assert not ok and words in line, line


def test_an_amount_printed_but_not_sealed_is_found(issued, tmp_path):
    db, page, text = issued
    content = json.loads(text)  # each case changes its own copy
    f = tmp_path / "st.html"
    f.write_text(resealed(page, content).replace("</body>", "<p>Prime : 9\u202f999,99\u00a0€</p></body>"))
    ok, line = check(db, f)
    assert not ok and "the amount 9 999,99 € is printed but is not in the sealed content" in line


def test_a_hash_seal_when_a_signature_was_asked_for_and_malformed_signed_seals(issued, tmp_path):
    from paybonus import signing

    db, page, text = issued
    content = json.loads(text)  # each case changes its own copy
    f = tmp_path / "st.html"
    f.write_text(resealed(page, content), encoding="utf-8")
    key = signing.new_key(tmp_path / "key.pem")
    with Paybonus.open(db) as app:
        ok, line = verify_file(app.ledger, f, trusted=key.public_key())
    assert not ok and "the statement is not signed, and a signature by the trusted key was asked for" in line
    digest = seal_of(content).split(";")[1]
    for seal, words in (
        (f"paybonus-seal-v3;{digest};{signing.public_text(key)}", "the seal is malformed"),
        (f"paybonus-seal-v3;{digest};not-a-key;c2ln", "the seal's public key is malformed"),
    ):
        f.write_text(resealed(page, content, seal), encoding="utf-8")
        ok, line = check(db, f)
        assert not ok and words in line, line


def test_a_first_form_seal_needs_the_ledger_and_its_eight_fields(files, tmp_path):
    db, _, by = files
    (eid, digest), total = by["E0001"].content["entries"][0], 177301
    h = hashlib.sha256(f"{eid}={digest}".encode() + f"|{total}".encode()).hexdigest()
    seal = f"paybonus-seal-v1;DURAND;interessement;E0001;2025-01-01..2025-12-31;{total};{eid}={digest};{h}"
    old = tmp_path / "old.html"
    old.write_text(f'<html><head><meta name="paybonus-ledger" content="{seal}"></head></html>')
    ok, line = verify_file(None, old)  # --offline
    assert not ok and "a statement of paybonus 0.x is checked against the ledger only" in line
    old.write_text(old.read_text().replace(f";{h}", ""))
    with pytest.raises(UserError, match="no paybonus seal"):
        check(db, old)
