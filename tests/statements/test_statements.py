"""The fiche distincte (D3313-9, LAW 1.9): every item in French, the same words in HTML and PDF, the four cases
of the issue (a full year, a leaver, part time with maternity leave, a project participant), the seal."""

import json
import shutil
from datetime import date

import pytest
from helpers.statements import ITEMS, PER_ONLY, WITH_PER, project_ledger, sample_ledger, text_of, words
from paybonus import Paybonus
from paybonus.calendar import Period
from paybonus.errors import UserError
from paybonus.fixtures import sample_dir
from paybonus.french import NBSP, NNBSP, eur
from paybonus.statements import canonical, seal_of
from paybonus.statements.content import words as statement_words

YEAR = Period.parse("2025")
ISSUED = date(2026, 4, 15)


@pytest.fixture(scope="module")
def durand(tmp_path_factory):
    return sample_ledger(tmp_path_factory.mktemp("durand") / "l.db")


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    return project_ledger(tmp_path_factory.mktemp("atlas") / "l.db")


def one(db, company, employee, scheme="interessement", channel="email"):
    with Paybonus.open(db) as app:
        (st,) = app.statements(company, YEAR, scheme, issued_on=ISSUED, channel=channel, employee=employee)
    return st


def both(st):
    """(HTML text, PDF text) as a reader sees them, without the PDF's running footer."""
    c = st.content
    footer = f"{c['company']['name']} – {statement_words(c)['title']} – {c['employee']['name']}"
    return text_of(st.html().encode("utf-8")), text_of(st.pdf(), footer)


CASES = {
    "full year": ("DURAND", "E0001", "interessement"),
    "leaver": ("DURAND", "E0014", "interessement"),
    "part time, maternity leave": ("DURAND", "E0015", "interessement"),
    "project participant": ("BETA", "B1", "interessement_projet"),
}


@pytest.mark.parametrize("case", CASES)
def test_every_item_is_printed_in_html_and_pdf_with_the_same_words(case, durand, atlas):
    company, employee, scheme = CASES[case]
    st = one(atlas if scheme == "interessement_projet" else durand, company, employee, scheme)
    html, pdf = both(st)
    for name, text in (("html", html), ("pdf", pdf)):
        for item in ITEMS:
            assert item in text, (name, item)
        for line in st.content["lines"]:  # every amount, as the content says it is printed
            assert " ".join(line["text"].split()) in text, (name, line)
        assert "1er janvier" in text and "EUR" not in text and "1 janvier" not in text
        assert "Le 15 avril 2026" in text or "Lyon, le 15 avril 2026" in text  # the date of issue given
    assert words(html) == words(pdf), (words(html) - words(pdf), words(pdf) - words(html))
    page = st.html()
    assert f"{NNBSP}" in page and f"{NBSP}€" in page and f"1er{NBSP}janvier" in page


def test_a_full_year_reads_the_sample_figures(durand):
    st = one(durand, "DURAND", "E0001")
    html, _ = both(st)
    # the letterhead, one line of each column per row: company, address, SIREN | employee, matricule; the date
    assert html.startswith(
        "Atelier Durand SAS Mathis Petit 14 rue des Tanneurs Matricule E0001 69007 Lyon SIREN 123 456 789 "
        "Lyon, le 15 avril 2026 Relevé individuel d'intéressement 2025"
    )
    # the formula as a sentence and its brackets with the year's RCAI (366 937 €): 0 + 10 000 + 32 540,55
    assert "calculé par tranches : 0 % jusqu'à 50 000 €, 10 % de 50 000 € à 150 000 €" in html
    assert "brackets(" not in html and "rcai" not in html
    assert "au-delà de 150 000 € 15 % 216 937,00 € 32 540,55 €" in html
    assert "Total 366 937,00 € 42 540,55 €" in html
    # his own figures for each key, adding up to his amount
    assert "Part uniforme 30 % 12 762,17 € 1 bénéficiaire 30 bénéficiaires 425,41 €" in html
    assert "Temps de présence 30 % 12 762,16 € 365 jours 10 504 jours 443,47 €" in html
    assert "Total 100 % 42 540,55 € 1 773,01 €" in html
    # one net amount: 9.7 % withheld once, whatever the choice (LAW 0.3)
    lines = {x["key"]: x for x in st.content["lines"]}
    assert (lines["total"]["cents"], lines["withheld"]["cents"], lines["net"]["cents"]) == (
        177301,
        -17199,
        160102,
    )
    assert "la totalité est placée sur le plan d'épargne entreprise (PEE) Atelier Durand" in html
    assert "au plus tard le 30 avril 2026" in html  # 15 days from the date of issue (R3313-12)
    assert "rh@atelier-durand.example – 04 72 00 12 34" in html


def test_a_leaver_is_told_when_he_left_where_we_write_and_what_happens_if_we_cannot_reach_him(durand):
    html, _ = both(one(durand, "DURAND", "E0014"))
    assert "Vous avez quitté Atelier Durand SAS le 30 novembre 2025" in html
    assert "84 rue des Lilas, 69003 Lyon" in html  # the forwarding address of his employee_left (I-44)
    assert "Caisse des dépôts et consignations (article D3313-11)" in html
    assert "315 jours de présence en 2025 sur 334 jours de contrat ; 19 jours d'arrêt maladie" in html
    assert "non comptés" in html


def test_part_time_with_maternity_leave_counts_the_leave_and_the_reconstituted_salary(durand):
    html, _ = both(one(durand, "DURAND", "E0015"))
    assert "112 jours de congé de maternité (du 19 avril au 8 août 2025) comptés comme présence" in html
    assert "365 jours de présence en 2025 sur 365 jours de contrat" in html
    assert "dont 3 575,75 € reconstitués" in html and "R3314-3" in html
    assert "votre temps de travail représente 50 % d'un temps plein" in html


def test_a_project_participant_reads_the_projects_rules_and_his_entitys_part(atlas):
    st = one(atlas, "BETA", "B1", "interessement_projet")
    html, _ = both(st)
    assert "Relevé individuel d'intéressement de projet 2025" in html
    assert "Projet Atlas" in html and "L3312-6" in html
    # the project formula with the period's figures, labelled as the company's [statement.figures] say
    assert "le taux d'avancement du projet : 90 %" in html and "le retard de livraison : 15 jours" in html
    assert "Montant global 21 250,00 €" in html
    # the split between entities, his entity and its window
    assert "BETA-RD BETA du 1er juillet au 31 décembre 2025 306 2 668,24 €" in html
    assert "Vous faites partie de l'entité BETA-RD (l'unité de travail RD de Beta SAS)" in html
    assert "ajouté à l'intéressement de Beta SAS" in html  # one 20 % cap for both (P-4)
    assert "Salaire brut 100 % 2 668,24 € 22 800,00 € 37 200,00 € 1 635,37 €" in html
    assert "Vous aviez déjà reçu 475,00 € au titre de l'exercice" in html  # combined individual cap (P-4)


def test_the_content_is_the_one_source_of_the_text_and_of_the_seal(durand):
    st = one(durand, "DURAND", "E0001")
    c = st.content
    assert (
        c["format"] == "paybonus-statement/1" and c["issued_on"] == "2026-04-15" and c["channel"] == "email"
    )
    assert all(line["text"] == eur(line["cents"]) for line in c["lines"])
    assert st.seal.startswith("paybonus-seal-v2;") and st.seal == seal_of(dict(c))
    import hashlib

    assert st.seal.endswith(hashlib.sha256(canonical(c)).hexdigest())
    assert st.short_seal.replace("-", "").lower() == st.seal[-64:][:16]
    assert st.short_seal in text_of(st.html().encode("utf-8"))
    again = one(durand, "DURAND", "E0001")
    assert again.seal == st.seal  # the same ledger, date and channel give the same statement
    assert one(durand, "DURAND", "E0001", channel="post").seal != st.seal


def test_a_salary_type_bonus_has_no_statement(durand):
    with Paybonus.open(durand) as app, pytest.raises(UserError) as e:
        app.statements("DURAND", YEAR, "prime_nao", issued_on=ISSUED, channel="email")
    assert e.value.where == "--scheme" and "goes on the payslip" in e.value.what


@pytest.mark.parametrize(
    ("kwargs", "where", "fragment"),
    [
        ({"employee": "E9999"}, "--employee", "E9999 has no interessement entitlement in DURAND"),
        ({"period": Period.parse("2024")}, "--period", "periods with entitlements: 2025-01-01..2025-12-31"),
        ({"scheme": "participation"}, "--scheme", "no installed scheme 'participation'"),
        ({"company": "NOPE"}, "--company", "'NOPE' is not loaded"),
    ],
)
def test_an_empty_result_names_the_filter_that_emptied_it(durand, kwargs, where, fragment):
    args = {"company": "DURAND", "period": YEAR, "scheme": "interessement", **kwargs}
    with Paybonus.open(durand) as app, pytest.raises(UserError) as e:
        app.statements(
            args["company"],
            args["period"],
            args["scheme"],
            issued_on=ISSUED,
            channel="email",
            employee=kwargs.get("employee"),
        )
    assert e.value.where == where and fragment in e.value.what, str(e.value)


def test_the_issued_events_carry_the_date_and_channel_as_given_and_open_the_window_printed(tmp_path):
    db = sample_ledger(tmp_path / "l.db")
    st = one(db, "DURAND", "E0002", channel="hand")
    events = st.issued_events()
    assert [(e.type, e.payload.issued_on, e.payload.channel) for e in events] == [
        ("statement_issued", ISSUED, "hand")
    ]
    with Paybonus.open(db) as app:
        app.publish(events)
        assert app.publish(st.issued_events()).counts["duplicates"] == 1  # the same statement, the same ids
        from paybonus.payments import option_window

        window = option_window(app.ledger, events[0].payload.entitlement, app.params)
    assert window is not None and window[1].isoformat() == st.content["dates"]["answer_by"] == "2026-04-30"
    assert "remis en main propre le 15 avril 2026" in text_of(st.html().encode("utf-8"))
    # issued again later: the window runs from the first issue, and the statement says so
    later = one(db, "DURAND", "E0002")
    assert later.content["dates"]["answer_by"] == "2026-04-30"


def test_a_character_the_font_lacks_stops_the_pdf_rather_than_print_a_blank(durand):
    st = one(durand, "DURAND", "E0001")
    content = {**st.content, "employee": {**st.content["employee"], "name": "王 Petit"}}
    with pytest.raises(UserError) as e:
        st.renderer.pdf(content)
    assert e.value.where == "statement of E0001" and "王" in e.value.what
    assert "王 Petit" in st.renderer.html(content)  # the HTML page can still be written


@pytest.mark.parametrize(
    ("db_name", "company", "scheme"),
    [
        ("durand", "DURAND", "interessement"),
        ("atlas", "ALPHA", "interessement_projet"),
        ("atlas", "BETA", "interessement_projet"),
    ],
)
def test_for_every_beneficiary_the_annexs_parts_add_up_to_3_and_the_net_is_3_less_4(
    request, db_name, company, scheme
):
    db = request.getfixturevalue(db_name)
    with Paybonus.open(db) as app:
        built = app.statements(company, YEAR, scheme, issued_on=ISSUED, channel="email")
    assert built
    for st in built:
        lines = {x["key"]: x for x in st.content["lines"]}
        assert lines["net"]["cents"] == lines["total"]["cents"] + lines["withheld"]["cents"]
        assert lines["withheld"]["cents"] == -(lines["csg"]["cents"] + lines["crds"]["cents"])
        keys = next(
            b
            for s in st.content["annex"]["sections"]
            for b in s["blocks"]
            if b["kind"] == "table" and b["columns"][-1] == "Votre part"
        )
        assert keys["total"][-1] == lines["total"]["text"], st.employee  # capped or not, redistributed or not


def test_the_csg_is_the_one_of_the_parameters_the_computation_recorded_not_todays(durand, tmp_path):
    from paybonus.params import Parameters

    newer = tmp_path / "params.toml"
    newer.write_text(
        '[csg_total]\nunit = "rate"\nsource = "a later change"\nvalues = [{ from = 2018-01-01, value = "0.099" }]\n',
        encoding="utf-8",
    )
    with Paybonus.open(durand, params=Parameters.default().with_file(newer)) as app:
        (st,) = app.statements(
            "DURAND", YEAR, "interessement", issued_on=ISSUED, channel="email", employee="E0001"
        )
    lines = {x["key"]: x for x in st.content["lines"]}
    assert lines["csg"]["label"] == "CSG 9,2\u00a0%" and lines["withheld"]["cents"] == -17199


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """The sample year with a result of 9 M€ (the global cap binds), E0001 paid 100 000 € a month (the individual
    cap binds on the salary part, the rest is redistributed) and part time prorated (I-29)."""
    import shutil

    from paybonus.fixtures import sample_dir

    tmp = tmp_path_factory.mktemp("capped")
    co = shutil.copytree(sample_dir(), tmp / "durand")
    toml = co / "company.toml"
    toml.write_text(
        toml.read_text().replace(
            'reliquat = "redistribute"', 'reliquat = "redistribute"\npart_time = "prorate"'
        )
    )
    events = co / "events.jsonl"
    events.write_text(events.read_text().replace('"rcai":"366937"', '"rcai":"9000000"'))
    for f in (co / "payroll").glob("*.csv"):
        rows = [
            ",".join(["E0001", "100000.00", "100000.00", *line.split(",")[3:]])
            if line.startswith("E0001,")
            else line
            for line in f.read_text().splitlines()
        ]
        f.write_text("\n".join(rows) + "\n")
    db = tmp / "l.db"
    with Paybonus.create(db) as app:
        app.load_company(co)
        assert not app.publish(events).failed
    return db


def _annex(st):
    sections = {s["title"].split(". ", 1)[1]: s["blocks"] for s in st.content["annex"]["sections"]}
    texts = [
        " ".join(b["text"].replace(NBSP, " ").replace(NNBSP, " ").split())
        for blocks in sections.values()
        for b in blocks
        if b["kind"] == "text"
    ]
    (table,) = [b for b in sections["La répartition entre les bénéficiaires"] if b["kind"] == "table"]
    return texts, table


def _cents(text):
    return round(
        float(text.replace(NNBSP, "").replace(NBSP, "").replace("€", "").replace("–", "-").replace(",", "."))
        * 100
    )


def test_the_annex_shows_the_caps_that_bound_and_the_reliquat_redistributed(capped):
    # I-30, I-31 (L3314-8): the global cap of 20 % of salaries, the individual cap of 75 % of the PASS; L3314-11
    texts, table = _annex(one(capped, "DURAND", "E0001"))
    rows = {r[0]: r for r in table["rows"]}
    assert rows["Ramené au plafond individuel"][5] == f"–69{NNBSP}798,39{NBSP}€"
    assert table["total"][5] == f"35{NNBSP}325,00{NBSP}€"  # 75 % of the PASS 2025 (47 100 €)
    assert sum(_cents(r[5]) for r in table["rows"]) == _cents(table["total"][5])
    assert any(
        "Plafond global" in t and "il a été atteint et le montant a été ramené à ce plafond" in t
        for t in texts
    )
    assert any("Votre part a été limitée à ce plafond." in t for t in texts)
    assert any("En 2025, 1 bénéficiaire a atteint le plafond." in t for t in texts)
    texts, table = _annex(one(capped, "DURAND", "E0002"))
    rows = {r[0]: r for r in table["rows"]}
    assert (
        "Ramené au plafond individuel" not in rows
        and rows["Reliquat redistribué"][5] == f"2{NNBSP}425,96{NBSP}€"
    )
    assert sum(_cents(r[5]) for r in table["rows"]) == _cents(table["total"][5])
    assert any("Votre part ne l'atteint pas." in t for t in texts)


def test_a_part_timer_reads_the_uniform_part_prorated_by_working_time(capped):
    # I-29: part_time = "prorate": the uniform part in proportion of the working time (E0015 works half time)
    _, table = _annex(one(capped, "DURAND", "E0015"))
    uniform = next(r for r in table["rows"] if r[0] == "Part uniforme")
    assert uniform[3:] == [f"50{NBSP}%", f"27,80{NBSP}ETP", f"2{NNBSP}246,50{NBSP}€"]
    assert _cents(uniform[5]) * 2 == _cents(_annex(one(capped, "DURAND", "E0001"))[1]["rows"][0][5])


def test_a_part_timers_presence_reads_in_full_time_days(capped):
    # I-29: with part_time = "prorate" a day present weighs the month's contractual hours over the legal monthly
    # hours (151,67 h): a whole year at 75,84 h a month is 365 x 75,84 / 151,67 = 182,51 full-time days, at full
    # time the days present (E0002: 355, ten days of sickness not counted, I-25); never "hours" (it read
    # "55 359,55 h")
    _, half = _annex(one(capped, "DURAND", "E0015"))
    _, full = _annex(one(capped, "DURAND", "E0002"))
    presence = [next(r for r in t["rows"] if r[0] == "Temps de présence") for t in (half, full)]
    assert presence[0][3] == f"182,51{NBSP}jours ETP" and presence[1][3] == f"355,00{NBSP}jours ETP"
    assert presence[0][4] == presence[1][4] and presence[0][4].endswith(f"{NBSP}jours ETP")


def _event(id, type, occurred_at, payload):
    return json.dumps(
        {"id": id, "type": type, "company": "DURAND", "occurred_at": occurred_at, "payload": payload}
    )


def test_rights_corrected_below_what_was_already_paid_read_as_an_amount_to_give_back(tmp_path):
    # D3313-9 3° ter: E0001 was paid his 1 773,01 € on time; the agreement's formula, fixed after the fact and
    # computed again, brings his rights down to 1 112,54 € (a correction of -660,47 €). What he has to give
    # back reads "Montant à reverser 660,47 €", never "Montant restant à percevoir –660,47 €"
    db = sample_ledger(tmp_path / "l.db")
    company = tmp_path / "DURAND"
    shutil.copytree(sample_dir(), company)
    toml = company / "company.toml"
    fixed = toml.read_text().replace("[50000, 0.10], [150000, 0.15]", "[50000, 0.05], [150000, 0.10]")
    assert fixed != toml.read_text()
    toml.write_text(fixed)
    paid, recompute = tmp_path / "paid.jsonl", tmp_path / "recompute.jsonl"
    with Paybonus.open(db) as app:
        [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0001")
        payment = {
            "entitlement": principal.id,
            "amount_cents": 177_301,
            "paid_on": "2026-05-28",
            "mode": "paid",
        }
        paid.write_text(_event("pay-E0001", "payment_recorded", "2026-05-28T18:00:00+02:00", payment) + "\n")
        assert not app.publish(paid).failed
        app.load_company(company)
        request = {"scheme": "interessement", "period": "2025", "reason": "formula fixed"}
        recompute.write_text(
            _event("recompute", "recomputation_requested", "2026-07-01T09:00:00+02:00", request)
        )
        assert not app.publish(recompute).failed
    lines = {line["key"]: line for line in one(db, "DURAND", "E0001").content["lines"]}
    assert [(lines[k]["label"], lines[k]["cents"]) for k in ("total", "remaining")] == [
        ("Montant total de vos droits (brut)", 111_254),
        ("Montant à reverser", 66_047),
    ]


@pytest.mark.parametrize(
    ("payments", "allocation", "sentence"),
    [
        ([("paid", 177_301)], "paid", "Vos droits vous ont été versés"),
        ([("placed", 177_301)], "placed", "Vos droits ont été placés sur"),
        ([("paid", 77_301), ("placed", 100_000)], "split", "Une partie de vos droits vous a été versée"),
        (
            [("paid", 177_300)],
            "pending",
            "Vous pouvez demander le versement",
        ),  # one cent still due: still open
        (
            [("paid", 177_301, "2026-04-16")],
            "pending",
            "Vous pouvez demander le versement",
        ),  # paid after the issue
    ],
)
def test_rights_paid_or_placed_before_the_statement_leave_nothing_to_choose(
    tmp_path, payments, allocation, sentence
):
    # I-38: the statement of a sum the payroll already paid out (or placed) in full told the employee he could
    # still ask for it to be paid or placed within 15 days; it now says what the recorded payments did
    db = sample_ledger(tmp_path / "l.db")
    paid = tmp_path / "paid.jsonl"
    with Paybonus.open(db) as app:
        [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0001")
        assert principal.amount_cents == 177_301
        lines = []
        for n, (mode, cents, *on) in enumerate(payments):
            day = on[0] if on else "2026-04-10"
            payload = {"entitlement": principal.id, "amount_cents": cents, "paid_on": day, "mode": mode}
            lines.append(_event(f"pay-{n}", "payment_recorded", f"{day}T18:00:00+02:00", payload))
        paid.write_text("\n".join(lines) + "\n")
        assert not app.publish(paid).failed
    st = one(db, "DURAND", "E0001")
    choice = st.content["choice"]
    assert (choice["open"], choice["allocation"], choice["by_payment"]) == (
        allocation == "pending",
        allocation,
        allocation != "pending",
    )
    html, pdf = both(st)
    for text in (html, pdf):
        assert sentence in text
        assert ("il ne reste rien à choisir" in text) == (allocation != "pending")
    if allocation == "split":
        parts = {line["key"]: line["cents"] for line in st.content["lines"]}
        assert (parts["paid_part"], parts["placed_part"]) == (77_301, 100_000)


def test_rights_placed_in_the_company_per_before_the_statement_do_not_read_as_placed_on_the_pee(tmp_path):
    # I-38 with `placed_per`: the payroll placed E0001's 1 773,01 € in the company PER before the statement; the
    # statement must not tell him they went to the PEE (named by [statement] savings_plan) for 5 years
    db = sample_ledger(tmp_path / "l.db", WITH_PER)
    paid = tmp_path / "paid.jsonl"
    with Paybonus.open(db) as app:
        [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0001")
        payload = {
            "entitlement": principal.id,
            "amount_cents": 177_301,
            "paid_on": "2026-04-10",
            "mode": "placed_per",
        }
        paid.write_text(_event("pay-per", "payment_recorded", "2026-04-10T18:00:00+02:00", payload) + "\n")
        assert not app.publish(paid).failed
    st = one(db, "DURAND", "E0001")
    plan = st.content["choice"]["plan"]
    assert plan  # the PEE's name
    html, _ = both(st)
    assert f"Vos droits ont été placés sur {plan}" not in html
    assert "Vos droits ont été placés sur le plan d'épargne retraite d'entreprise (PER)" in html
    assert "indisponibles jusqu'à votre départ à la retraite" in html


def test_a_split_made_by_payments_then_corrected_below_them_shows_what_was_paid_out(tmp_path):
    # E0001 got 773,01 € paid out and 1 000,00 € placed before any statement; a recomputation then brings his
    # rights to 1 112,54 €. The statement says the payments split his rights: the part paid out was 773,01 €
    # (and 660,47 € is to give back), never 112,54 €
    db = sample_ledger(tmp_path / "l.db")
    company = tmp_path / "DURAND"
    shutil.copytree(sample_dir(), company)
    toml = company / "company.toml"
    toml.write_text(
        toml.read_text().replace("[50000, 0.10], [150000, 0.15]", "[50000, 0.05], [150000, 0.10]")
    )
    paid, recompute = tmp_path / "paid.jsonl", tmp_path / "recompute.jsonl"
    with Paybonus.open(db) as app:
        [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0001")
        lines = [
            _event(
                f"pay-{mode}",
                "payment_recorded",
                "2026-04-10T18:00:00+02:00",
                {"entitlement": principal.id, "amount_cents": cents, "paid_on": "2026-04-10", "mode": mode},
            )
            for mode, cents in (("paid", 77_301), ("placed", 100_000))
        ]
        paid.write_text("\n".join(lines) + "\n")
        assert not app.publish(paid).failed
        app.load_company(company)
        request = {"scheme": "interessement", "period": "2025", "reason": "formula fixed"}
        recompute.write_text(
            _event("recompute", "recomputation_requested", "2026-04-12T09:00:00+02:00", request)
        )
        assert not app.publish(recompute).failed
    st = one(db, "DURAND", "E0001")
    parts = {line["key"]: line["cents"] for line in st.content["lines"]}
    assert st.content["choice"]["allocation"] == "split"
    assert (parts["total"], parts["remaining"]) == (111_254, 66_047)
    assert (parts["paid_part"], parts["placed_part"]) == (77_301, 100_000)


@pytest.mark.parametrize(
    ("mode", "paid_on", "by_payment", "sentence"),
    [
        ("paid", "2026-04-10", True, "Vos droits vous ont été versés"),
        ("placed", "2026-04-10", False, "Vos droits sont placés sur"),  # as the default would: it stands
        ("placed", "2026-05-05", False, "Vos droits sont placés sur"),  # placed by default after the window
    ],
)
def test_a_statement_issued_again_after_the_window_says_what_the_payments_did_where_the_default_did_not(
    tmp_path, mode, paid_on, by_payment, sentence
):
    # I-38: paid out in full before the first statement (15 April); the statement sent again on 15 May, once the
    # window closed with no answer, read "placés sur le PEE, faute de demande de versement dans le délai": the
    # default, for a sum the payroll had paid out before any window opened. Placed, it reads as the default
    db = sample_ledger(tmp_path / "l.db")
    paid, issued = tmp_path / "paid.jsonl", tmp_path / "issued.jsonl"
    with Paybonus.open(db) as app:
        [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0001")
        first = {"entitlement": principal.id, "issued_on": "2026-04-15", "channel": "email"}
        payload = {"entitlement": principal.id, "amount_cents": 177_301, "paid_on": paid_on, "mode": mode}
        paid.write_text(_event("pay", "payment_recorded", f"{paid_on}T18:00:00+02:00", payload) + "\n")
        issued.write_text(_event("issued", "statement_issued", "2026-04-15T09:00:00+02:00", first) + "\n")
        for events in (paid, issued) if paid_on < "2026-04-15" else (issued, paid):
            assert not app.publish(events).failed
        (again,) = app.statements(
            "DURAND", YEAR, "interessement", issued_on=date(2026, 5, 15), channel="post", employee="E0001"
        )
    choice = again.content["choice"]
    assert (choice["open"], choice["allocation"], choice["by_default"], choice["by_payment"]) == (
        False,
        mode,
        not by_payment,
        by_payment,
    )
    html, pdf = both(again)
    for text in (html, pdf):
        assert sentence in text
        assert ("faute de demande de versement" in text) == (not by_payment)


@pytest.mark.parametrize(
    ("payments", "allocation"),
    [
        ([("placed", 100_001), ("placed_per", 77_300)], "placed"),
        ([("paid", 77_301), ("placed", 60_000), ("placed_per", 39_999), ("placed_per", 1)], "split"),
    ],
)
def test_rights_placed_by_payments_in_the_pee_and_the_per_say_how_much_went_to_each_plan(
    tmp_path, payments, allocation
):
    # D3313-9 5°, I-38: the payroll placed E0001's 1 773,01 € partly in the PEE (5 years) and partly in the company
    # PER (until retirement); the statement said "placés sur le PEE et le PER" with one amount and no split. It
    # now gives the cents of each plan, as the payments recorded them, adding up to what was placed
    db = sample_ledger(tmp_path / "l.db", WITH_PER)
    paid = tmp_path / "paid.jsonl"
    with Paybonus.open(db) as app:
        [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0001")
        lines = [
            _event(
                f"pay-{n}",
                "payment_recorded",
                "2026-04-10T18:00:00+02:00",
                {"entitlement": principal.id, "amount_cents": cents, "paid_on": "2026-04-10", "mode": mode},
            )
            for n, (mode, cents) in enumerate(payments)
        ]
        paid.write_text("\n".join(lines) + "\n")
        assert not app.publish(paid).failed
    st = one(db, "DURAND", "E0001")
    choice = st.content["choice"]
    assert (choice["allocation"], choice["by_payment"], choice["company_per"]) == (allocation, True, True)
    parts = {line["key"]: line["cents"] for line in st.content["lines"]}
    pee = sum(c for m, c in payments if m == "placed")
    per = sum(c for m, c in payments if m == "placed_per")
    paid_out = sum(c for m, c in payments if m == "paid")
    assert (parts["placed_pee"], parts["placed_per"]) == (pee, per)
    assert parts.get("paid_part", 0) + parts["placed_pee"] + parts["placed_per"] == parts["total"] == 177_301
    if allocation == "split":
        assert (parts["paid_part"], parts["placed_part"]) == (paid_out, pee + per)
    plan = choice["plan"]
    pee_, per_ = (" ".join(eur(c).split()) for c in (pee, per))  # as text_of reads them
    html, pdf = both(st)
    for text in (html, pdf):
        assert f"{pee_} sur {plan} et {per_} sur le plan d'épargne retraite d'entreprise (PER)" in text
        assert f"dont part placée sur {plan} (montant brut) {pee_}" in text
        assert (
            f"dont part placée sur le plan d'épargne retraite d'entreprise (PER) (montant brut) {per_}"
            in text
        )
        assert f"Les {pee_} placés sur {plan} sont indisponibles pendant 5 ans" in text
        assert (
            f"Les {per_} placés sur le plan d'épargne retraite d'entreprise (PER) sont indisponibles "
            "jusqu'à votre départ à la retraite" in text
        )
        assert "il ne reste rien à choisir" in text
        assert f"sur {plan} et le plan d'épargne retraite" not in text  # the one undivided sum, as before


@pytest.mark.parametrize(
    ("answer", "issued_again", "sentence"),
    [
        (None, None, "Vous pouvez demander le placement de tout ou partie de votre intéressement sur {per}"),
        ("placed", date(2026, 5, 15), "Vos droits sont placés sur {per}, comme vous l'avez demandé"),
        (None, date(2026, 5, 15), "Vos droits vous sont versés, faute de demande de placement dans le délai"),
    ],
)
def test_a_company_with_a_per_and_no_pee_offers_the_per_and_pays_out_by_default(
    tmp_path, answer, issued_again, sentence
):
    # I-37, I-38: without a PEE there is no default placement, but a company PER takes the sums the employee asks
    # to place. The statement said "n'a pas de plan d'épargne salariale : versé" and offered no choice, while a
    # choice to place was recorded and only `placed_per` could follow it
    db = sample_ledger(tmp_path / "l.db", PER_ONLY)
    per = "le plan d'épargne retraite d'entreprise (PER)"
    with Paybonus.open(db) as app:
        if issued_again is None:
            (st,) = app.statements(
                "DURAND", YEAR, "interessement", issued_on=ISSUED, channel="email", employee="E0001"
            )
        else:
            [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0001")
            first = {"entitlement": principal.id, "issued_on": "2026-04-15", "channel": "email"}
            lines = [_event("issued", "statement_issued", "2026-04-15T09:00:00+02:00", first)]
            if answer:
                chosen = {"entitlement": principal.id, "choice": answer, "chosen_on": "2026-04-20"}
                lines.append(_event("chosen", "option_chosen", "2026-04-20T09:00:00+02:00", chosen))
            (tmp_path / "ev.jsonl").write_text("\n".join(lines) + "\n")
            assert not app.publish(tmp_path / "ev.jsonl").failed
            (st,) = app.statements(
                "DURAND", YEAR, "interessement", issued_on=issued_again, channel="post", employee="E0001"
            )
    choice = st.content["choice"]
    assert (choice["savings_plan"], choice["per_only"], choice["placed_on"]) == (False, True, per)
    assert (choice["open"], choice["allocation"]) == (
        (True, "pending") if issued_again is None else (False, answer or "paid")
    )
    html, pdf = both(st)
    for text in (html, pdf):
        assert sentence.format(per=per) in text
        assert (
            "n'a pas de plan d'épargne salariale" not in text and choice["plan"] not in text
        )  # no PEE named
        assert (
            f"5° Les sommes placées sur {per} sont indisponibles jusqu'à votre départ à la retraite" in text
        )
        assert (
            "n'a pas de plan d'épargne entreprise (PEE) : sans demande de placement, la totalité vous est "
            "versée" in text
        )
        assert (
            "Montant net, que vous le perceviez ou le placiez" in text
        ) and "Montant net versé" not in text
    if issued_again is None:
        assert st.content["dates"]["answer_by"] == "2026-04-30"
        assert "Si vous demandez le placement" in html and "bloqué jusqu'à votre départ à la retraite" in html


@pytest.mark.parametrize(
    ("answer", "payments", "sentence"),
    [
        # a choice to place names no plan: the payroll placed it all in the company PER
        (
            ("placed", None),
            [("placed_per", 134_667)],
            "Vos droits sont placés sur {per}, comme vous l'avez demandé",
        ),
        # a split chosen, its placed part put partly in each plan
        (
            ("split", 100_000),
            [("paid", 34_667), ("placed", 60_001), ("placed_per", 39_999)],
            "Une partie de vos droits vous est versée (346,67 €), le reste est placé : 600,01 € sur {plan} et "
            "399,99 € sur {per}, comme vous l'avez demandé",
        ),
        # no answer: once the window closed, the payroll placed it all in the company PER, not the PEE
        (
            None,
            [("placed_per", 134_667)],
            "Vos droits ont été placés sur {per}, comme les paiements enregistrés",
        ),
    ],
)
def test_sums_placed_in_the_company_per_after_the_window_do_not_read_as_placed_on_the_pee(
    tmp_path, answer, payments, sentence
):
    # D3313-9 5°, I-38: E0002 answered (or not) within the window, then the payroll placed the sums in the company
    # PER; a statement issued after it said "Vos droits sont placés sur le PEE" and "indisponibles pendant 5 ans",
    # of sums unavailable until retirement: only payments that differed from the allocation were read
    db = sample_ledger(tmp_path / "l.db", WITH_PER)
    with Paybonus.open(db) as app:
        [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0002")
        assert principal.amount_cents == 134_667
        first = {"entitlement": principal.id, "issued_on": "2026-04-01", "channel": "email"}
        lines = [_event("issued", "statement_issued", "2026-04-01T09:00:00+02:00", first)]
        if answer:
            chosen = {"entitlement": principal.id, "choice": answer[0], "chosen_on": "2026-04-02"}
            if answer[1] is not None:
                chosen["placed_cents"] = answer[1]
            lines.append(_event("chosen", "option_chosen", "2026-04-02T09:00:00+02:00", chosen))
        for n, (mode, cents) in enumerate(payments):
            pay = {"entitlement": principal.id, "amount_cents": cents, "paid_on": "2026-04-20", "mode": mode}
            lines.append(_event(f"pay-{n}", "payment_recorded", "2026-04-20T18:00:00+02:00", pay))
        (tmp_path / "ev.jsonl").write_text("\n".join(lines) + "\n")
        assert not app.publish(tmp_path / "ev.jsonl").failed
        (st,) = app.statements(
            "DURAND", YEAR, "interessement", issued_on=date(2026, 4, 25), channel="post", employee="E0002"
        )
    choice = st.content["choice"]
    per = "le plan d'épargne retraite d'entreprise (PER)"
    assert choice["company_per"] and choice["allocation"] == (answer[0] if answer else "placed")
    parts = {line["key"]: line["cents"] for line in st.content["lines"]}
    pee_cents = sum(c for m, c in payments if m == "placed")
    assert (parts.get("placed_pee", 0), parts.get("placed_per", 0)) == (
        (pee_cents, sum(c for m, c in payments if m == "placed_per")) if pee_cents else (0, 0)
    )
    html, pdf = both(st)
    for text in (html, pdf):
        assert " ".join(sentence.format(per=per, plan=choice["plan"]).split()) in text
        assert f"placés sur {choice['plan']}," not in text  # never all on the PEE
        assert f"sur {per} sont indisponibles jusqu'à votre départ à la retraite" in text


def test_a_per_only_statement_asks_for_requests_to_place_not_to_be_paid(tmp_path):
    # I-38: without a PEE the employee asks for a placement in the PER, not for payment (paid by default); the
    # contact heading still read "Une question, une demande de versement ?"
    st = one(sample_ledger(tmp_path / "l.db", PER_ONLY), "DURAND", "E0001")
    for text in both(st):
        assert "Une question, une demande de placement ?" in text and "demande de versement ?" not in text


def test_a_ledger_recorded_before_has_company_per_reads_its_per_payments_without_a_pee(tmp_path, monkeypatch):
    # a company without a PEE whose payroll placed E0001's rights in its PER (`placed_per`) before a company PER
    # had to be declared (`has_company_per`): its statement said "aucune somme n'est placée ... la totalité vous
    # est versée" of sums locked until retirement, until the company.toml was loaded again
    from paybonus import payments

    db = sample_ledger(tmp_path / "l.db", ("has_savings_plan = true\n", "has_savings_plan = false\n"))
    with Paybonus.open(db) as app:
        [principal] = app.entitlements(company="DURAND", scheme="interessement", employee="E0001")
        pay = {
            "entitlement": principal.id,
            "amount_cents": 177_301,
            "paid_on": "2026-04-10",
            "mode": "placed_per",
        }
        (tmp_path / "paid.jsonl").write_text(
            _event("pay", "payment_recorded", "2026-04-10T18:00:00+02:00", pay) + "\n"
        )
        with monkeypatch.context() as m:  # as the versions before `has_company_per` recorded it
            m.setattr(payments, "_has_company_per", lambda *_: True)
            assert not app.publish(tmp_path / "paid.jsonl").failed
    st = one(db, "DURAND", "E0001")
    assert (st.content["choice"]["allocation"], st.content["choice"]["per_only"]) == ("placed", True)
    for text in both(st):
        assert "Vos droits ont été placés sur le plan d'épargne retraite d'entreprise (PER)" in text
        assert "aucune somme n'est placée" not in text
