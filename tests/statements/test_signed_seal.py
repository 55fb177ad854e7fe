"""Signed statements (the proof issue): the seal is an Ed25519 signature of the statement's canonical content;
anyone with the company's public key checks it, with or without the ledger; a visible change, a content edited
and re-hashed, a seal pasted from another statement, a statement re-signed with another key or a seal alone fail,
each with exit 1 and a line naming what differs."""

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from helpers.cli import run
from helpers.statements import sample_ledger
from paybonus import Paybonus
from paybonus.calendar import Period
from paybonus.signing import new_key, public_text
from paybonus.statements import canonical, verify_file
from paybonus.statements.seal import SEAL_V3


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The sample ledger, a key and two employees' signed statements (HTML and PDF), made once for the module:
    publishing the year and rendering the PDFs cost seconds a test; each test works on copies (`signed`)."""
    where = tmp_path_factory.mktemp("signed")
    db = sample_ledger(where / "l.db")
    key = new_key(where / "key.pem")
    with Paybonus.open(db) as app:
        built = app.statements(
            "DURAND",
            Period.parse("2025"),
            "interessement",
            issued_on=date(2026, 4, 15),
            channel="post",
            key=key,
        )
    by = {st.employee: st for st in built}
    for emp in ("E0001", "E0002"):
        (where / f"{emp}.html").write_text(by[emp].html(), encoding="utf-8")
        (where / f"{emp}.pdf").write_bytes(by[emp].pdf())
    return where, key, by


@pytest.fixture
def signed(pristine, tmp_path):
    where, key, by = pristine
    db = Path(shutil.copy(where / "l.db", tmp_path / "l.db"))
    shutil.copy(where / "key.pem", tmp_path / "key.pem")
    files = {}
    for emp in ("E0001", "E0002"):
        for ext in ("html", "pdf"):
            files[f"{emp}.{ext}"] = Path(shutil.copy(where / f"{emp}.{ext}", tmp_path / f"{emp}.{ext}"))
    return db, key, files, by


def test_a_signed_statement_verifies_with_the_public_key_alone_and_against_the_ledger(signed):
    db, key, files, by = signed
    assert by["E0001"].seal.startswith(SEAL_V3 + ";")
    for name in ("E0001.html", "E0001.pdf"):
        ok, line = verify_file(None, files[name], key.public_key())
        assert ok and "signed by key" in line and "ledger not consulted" in line, line
        with Paybonus.open(db) as app:
            ok, line = app.verify_statement(files[name], key.public_key())
        assert ok and "signed by key" in line and "1 ledger entry" in line, line
    text = files["E0001.html"].read_text(encoding="utf-8")
    assert "Il est signé électroniquement par Atelier Durand SAS (clé" in re.sub(r"\s+", " ", text)


def test_content_edited_and_rehashed_fails_the_signature(signed):
    _, key, files, _ = signed
    page = files["E0001.html"].read_text(encoding="utf-8")
    raw = re.search(
        r'<script type="application/json" id="paybonus-statement">(.*?)</script>', page, re.S
    ).group(1)
    content = json.loads(raw)
    content["issued_on"] = "2026-05-15"  # the 15 days would run later
    import hashlib

    new_hash = hashlib.sha256(canonical(content)).hexdigest()
    seal = re.search(r'<meta name="paybonus-ledger" content="([^"]+)"', page).group(1)
    parts = seal.split(";")
    forged = page.replace(raw, json.dumps(content, ensure_ascii=False)).replace(
        seal, ";".join([parts[0], new_hash, *parts[2:]])
    )
    files["E0001.html"].write_text(forged, encoding="utf-8")
    ok, line = verify_file(None, files["E0001.html"], key.public_key())
    assert not ok and "signature does not match" in line


def test_a_statement_resigned_with_another_key_fails_against_the_trusted_key(signed, tmp_path):
    db, key, _files, _ = signed
    other = new_key(tmp_path / "other.pem")
    with Paybonus.open(db) as app:
        forged = app.statements(
            "DURAND",
            Period.parse("2025"),
            "interessement",
            issued_on=date(2026, 4, 15),
            channel="post",
            employee="E0001",
            key=other,
        )[0]
    path = tmp_path / "forged.pdf"
    path.write_bytes(forged.pdf())
    ok, line = verify_file(None, path, key.public_key())
    assert not ok and "not with the trusted key" in line
    ok, _ = verify_file(None, path, other.public_key())  # it is a valid statement of whoever holds that key
    assert ok


def test_a_seal_pasted_from_another_statement_fails(signed):
    _, key, files, _ = signed
    mine, theirs = (files[f].read_text(encoding="utf-8") for f in ("E0001.html", "E0002.html"))
    their_seal = re.search(r'<meta name="paybonus-ledger" content="([^"]+)"', theirs).group(1)
    my_seal = re.search(r'<meta name="paybonus-ledger" content="([^"]+)"', mine).group(1)
    files["E0001.html"].write_text(mine.replace(my_seal, their_seal), encoding="utf-8")
    ok, line = verify_file(None, files["E0001.html"], key.public_key())
    assert not ok and "content was altered" in line


def test_the_command_line_checks_signed_statements_offline_and_names_a_visible_change(signed, tmp_path):
    db, key, files, _ = signed
    public = public_text(key)
    ok = run(
        "notice",
        "verify",
        "--offline",
        "--public-key",
        public,
        str(files["E0001.pdf"]),
        str(files["E0002.html"]),
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    page = files["E0002.html"].read_text(encoding="utf-8")
    head, body = page.split("</head>")
    amount = re.search(r"<b>(\d[\d\u202f]*,\d\d)\u00a0€</b>", body).group(1)  # the first emphasised amount
    files["E0002.html"].write_text(
        head + "</head>" + body.replace(amount, str(int(amount[0]) + 1) + amount[1:], 1), encoding="utf-8"
    )
    bad = run(
        "--db", str(db), "notice", "verify", "--public-key", public, str(files["E0002.html"]), cwd=tmp_path
    )
    assert bad.returncode == 1 and "is printed but is not in the sealed content" in bad.stderr
    assert "Traceback" not in bad.stderr
    alone = tmp_path / "alone.html"
    alone.write_text(
        re.search(r'<meta name="paybonus-ledger" content="[^"]+">', page).group(0), encoding="utf-8"
    )
    r = run("notice", "verify", "--offline", "--public-key", public, str(alone), cwd=tmp_path)
    assert r.returncode == 1 and "content is missing" in r.stderr


def test_statements_from_the_command_line_are_signed_with_the_configured_key(tmp_path):
    db = sample_ledger(tmp_path / "l.db")
    new_key(tmp_path / "key.pem")
    env = {"PAYBONUS_SIGNING_KEY": str(tmp_path / "key.pem")}
    args = (
        "--db",
        str(db),
        "statements",
        "--company",
        "DURAND",
        "--period",
        "2025",
        "--employee",
        "E0001",
        "--issued-on",
        "2026-04-15",
        "--channel",
        "hand",
        "--out",
        "st",
    )
    r = run(*args, cwd=tmp_path, env=env)
    assert r.returncode == 0 and "not signed" not in r.stderr, r.stderr
    page = next((tmp_path / "st").glob("*.html")).read_text(encoding="utf-8")
    assert "paybonus-seal-v3;" in page
    unsigned = run(*args[:-1], "st2", cwd=tmp_path, env={"PAYBONUS_SIGNING_KEY": ""})
    assert unsigned.returncode == 0 and "sealed, not signed" in unsigned.stderr


def certificate(tmp_path):
    """A self-signed X.509 certificate of the company (as a PKI would issue one) and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Atelier Durand SAS")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "cert-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return tmp_path / "cert.pem", tmp_path / "cert-key.pem"


def test_a_company_certificate_adds_a_standard_pdf_signature_any_reader_shows(tmp_path):
    import shutil
    from io import BytesIO

    from paybonus.fixtures import sample_dir
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    cert, cert_key = certificate(tmp_path)
    company = tmp_path / "co"
    shutil.copytree(sample_dir(), company)
    toml = company / "company.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace(
            "[statement]\n",
            f'[statement]\npdf_certificate = "{cert}"\npdf_certificate_key = "{cert_key}"\n',
            1,
        ),
        encoding="utf-8",
    )
    assert "pdf_certificate" in toml.read_text(encoding="utf-8")
    with Paybonus.create(tmp_path / "l.db") as app:
        app.load_company(company)
        app.publish(company / "events.jsonl")
        st = app.statements(
            "DURAND",
            Period.parse("2025"),
            "interessement",
            issued_on=date(2026, 4, 15),
            channel="portal",
            employee="E0001",
            key=new_key(tmp_path / "key.pem"),
        )[0]
        pdf = tmp_path / "E0001.pdf"
        pdf.write_bytes(st.pdf())
        ok, line = app.verify_statement(pdf)
        assert ok and "signed by key" in line, line
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko_certvalidator import ValidationContext

    trusting = ValidationContext(
        trust_roots=[load_cert_from_pemder(str(cert))]
    )  # a reader trusting the company
    status = validate_pdf_signature(PdfFileReader(BytesIO(pdf.read_bytes())).embedded_signatures[0], trusting)
    assert (
        status.intact and status.valid and "Atelier Durand SAS" in status.signing_cert.subject.human_friendly
    )
    data = bytearray(pdf.read_bytes())
    at = data.index(b"/ByteRange")
    data[at - 200 : at - 199] = b"X"  # a byte changed inside what the PDF signature covers
    pdf.write_bytes(bytes(data))
    ok, line = verify_file(None, pdf)
    assert not ok
