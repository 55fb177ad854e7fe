"""One jinja2 template (`fiche.html.j2`) to HTML and, through fpdf2's `write_html`, to PDF.

The template is rendered twice from the same content: `target="html"` gives the whole page, `target="pdf"` the
same body without its head, laid out by fpdf2 with the shipped Noto Sans font (sizes and colours below, since
fpdf2 reads no CSS). A company's own templates (`[statement] template_dir`, stored in the ledger) come first and
may `{% extends "paybonus/fiche.html.j2" %}` to replace blocks; the environment is sandboxed, so a template
cannot reach Python. The seal and the content are added by this module, never by a template.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
from fpdf import FPDF
from fpdf.fonts import FontFace, TextStyle
from fpdf.html import HTML2FPDF

from .. import french
from ..config import StatementSettings
from ..errors import UserError
from . import seal as sealing
from .content import canonical, words

TEMPLATE = "fiche.html.j2"
FONT = "NotoSans"
BLUE = "#1f3a5f"
_ENVIRONMENTS: dict[str, jinja2.Environment] = {}


def environment(files: Mapping[str, bytes], template_dir: str | None) -> jinja2.Environment:
    """The company's templates first, then the shipped ones (also as "paybonus/fiche.html.j2"), sandboxed."""
    own = {
        name.rsplit("/", 1)[-1]: content.decode("utf-8")
        for name, content in files.items()
        if template_dir and name.startswith(template_dir.rstrip("/") + "/") and name.endswith(".j2")
    }
    key = hashlib.sha256(repr(sorted(own.items())).encode()).hexdigest()
    if key not in _ENVIRONMENTS:
        shipped = jinja2.FileSystemLoader(str(resources.files("paybonus").joinpath("templates")))
        loader = jinja2.ChoiceLoader(
            [jinja2.DictLoader(own), shipped, jinja2.PrefixLoader({"paybonus": shipped})]
        )
        env = jinja2.sandbox.SandboxedEnvironment(
            loader=loader,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(
            eur=french.eur,
            date_fr=french.date_fr,
            pct=french.percent,
            num=french.number,
            de=french.de,
            nb=french.nb,
            siren=french.siren,
        )
        env.globals.update(period_fr=french.period_fr, plural=french.plural)
        _ENVIRONMENTS[key] = env
    return _ENVIRONMENTS[key]


class Renderer:
    """Renders statements of one company: its [statement] settings and the files stored with them."""

    def __init__(self, settings: StatementSettings, files: Mapping[str, bytes]) -> None:
        self.settings = settings
        self.files = dict(files)
        self.env = environment(self.files, settings.template_dir)
        self.logo = (
            _data_uri(self.files[settings.logo]) if settings.logo and settings.logo in self.files else ""
        )

    def render(self, content: Mapping[str, Any], target: str, seal: str | None = None) -> str:
        seal = seal or sealing.seal_of(dict(content))
        view = {
            "s": content,
            "L": {line["key"]: line for line in content["lines"]},
            "look": {
                "logo": self.logo,
                "place": self.settings.place,
                "wording": self.settings.wording,
            },
            "seal": {
                "short": sealing.short(seal),
                "entries": len(content["entries"]),
                "key": sealing.signer(seal),  # the signing key's id, None when the statement is not signed
            },
            "target": target,
            **words(content),
        }
        try:
            return _typeset(self.env.get_template(TEMPLATE).render(view))
        except jinja2.TemplateError as exc:
            where = getattr(exc, "filename", None) or getattr(exc, "name", None) or TEMPLATE
            line = getattr(exc, "lineno", None)
            raise UserError(f"{where}{f':{line}' if line else ''}", f"statement template: {exc}") from None

    def html(self, content: Mapping[str, Any], seal: str | None = None) -> str:
        """The statement as one self-contained HTML page, carrying its seal and its content."""
        seal = seal or sealing.seal_of(dict(content))
        page = self.render(content, "html", seal)
        head = sealing.html_head(dict(content), seal)
        return page.replace("</head>", head + "</head>", 1) if "</head>" in page else head + page

    def pdf(self, content: Mapping[str, Any], seal: str | None = None) -> bytes:
        """The statement as an A4 PDF with the shipped font, its seal in the Keywords, its content attached."""
        seal = seal or sealing.seal_of(dict(content))
        body = _pdf_defaults(self.render(content, "pdf", seal))
        w = words(content)
        doc = _Document(f"{content['company']['name']} – {w['title']} – {content['employee']['name']}")
        fonts = resources.files("paybonus").joinpath("fonts")
        doc.add_font(FONT, "", str(fonts.joinpath("NotoSans-Regular.ttf")))
        doc.add_font(FONT, "B", str(fonts.joinpath("NotoSans-Bold.ttf")))
        doc.set_title(f"{w['title']} – {content['employee']['name']}")
        doc.set_subject("Fiche distincte du bulletin de paie (article D3313-9 du code du travail)")
        doc.set_author(content["company"]["name"])
        doc.set_keywords(seal)
        doc.set_creator("paybonus")
        doc.set_lang("fr-FR")
        doc.embed_file(bytes=canonical(content), basename=sealing.ATTACHMENT, mime_type="application/json")
        doc.set_margins(18, 16, 18)
        doc.set_auto_page_break(True, margin=16)
        doc.add_page()
        doc.set_font(FONT, size=9.5)
        doc.set_text_color(34, 34, 34)
        doc.set_draw_color(200, 210, 222)  # table rules: light, as in the browser's CSS
        doc.set_line_width(0.2)
        with _missing_glyphs() as missing:
            try:
                doc.write_html(
                    body,
                    font_family=FONT,
                    table_line_separators=True,
                    ul_bullet_char="•",
                    li_prefix_color=(31, 58, 95),
                    tag_styles=TAG_STYLES,
                )
            except (NotImplementedError, ValueError, KeyError, IndexError) as exc:
                raise UserError(
                    TEMPLATE, f"the PDF cannot lay this template out ({exc}); see the rules in fiche.html.j2"
                ) from None
            pdf = bytes(doc.output())  # fpdf2 tells of missing glyphs only here, in a log record
        if missing:
            who = f"statement of {content['employee']['id']}"
            raise UserError(who, f"the PDF's font cannot print every character (write HTML): {missing[0]}")
        if self.settings.pdf_certificate and self.settings.pdf_certificate_key:
            pdf = pdf_signature(pdf, self.settings.pdf_certificate, self.settings.pdf_certificate_key)
        return pdf


def pdf_signature(pdf: bytes, certificate: str, key: str) -> bytes:
    """The PDF with a standard signature (PAdES, by pyHanko) made with the company's X.509 certificate: any PDF
    reader shows who signed it and that it was not changed since."""
    where = "[statement] pdf_certificate"
    try:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
    except ImportError:
        raise UserError(
            where, "signing PDFs with a certificate needs `pip install 'paybonus[pdfsign]'`"
        ) from None
    for path in (certificate, key):
        if not Path(path).expanduser().is_file():
            raise UserError(where, f"{path}: no such file")
    try:
        signer = signers.SimpleSigner.load(str(Path(key).expanduser()), str(Path(certificate).expanduser()))
    except Exception:
        signer = None
    if signer is None:
        raise UserError(where, "cannot load the certificate and its key (PEM files expected)")
    meta = signers.PdfSignatureMetadata(field_name="paybonus", reason="Fiche distincte (article D3313-9)")
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    return bytes(out.getvalue())


TAG_STYLES: dict[str, Any] = {
    "h1": TextStyle(font_size_pt=16, color=BLUE, t_margin=2, b_margin=1, font_style="B"),
    "h2": TextStyle(font_size_pt=11.5, color=BLUE, t_margin=3, b_margin=0.5, font_style="B"),
    "h3": TextStyle(font_size_pt=10, color=BLUE, t_margin=2.5, b_margin=0, font_style="B"),
    "p": TextStyle(t_margin=1.2, b_margin=0),
    "li": TextStyle(l_margin=5, t_margin=0.6),
    "ul": TextStyle(t_margin=0, b_margin=0),
    "em": FontFace(size_pt=8, color="#555555"),  # small print: the template's <em> is never italic
    "b": FontFace(emphasis="BOLD"),
    "strong": FontFace(emphasis="BOLD", color=BLUE),
}


class _Html(HTML2FPDF):
    """fpdf2's HTML renderer, with the gap around a table it means to leave. fpdf2 2.8 asks for an empty line
    at <table> and another at </table>, but both are laid out only with the next paragraph, after the table: two
    empty lines under every table. Here they are skipped and a small gap is left under the table instead."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._without_ln(tag, lambda: super(_Html, self).handle_starttag(tag, attrs))
        if tag == "table":  # the paragraph before is laid out by now; the table is, at </table>
            self.pdf.set_y(self.pdf.get_y() + TABLE_GAP_MM / 2)

    def handle_endtag(self, tag: str) -> None:
        self._without_ln(tag, lambda: super(_Html, self).handle_endtag(tag))
        if tag == "table":
            self.pdf.set_y(self.pdf.get_y() + TABLE_GAP_MM)

    def _without_ln(self, tag: str, call: Any) -> None:
        if tag != "table" or not hasattr(self, "_ln"):  # an fpdf2 without `_ln` keeps its own spacing
            call()
            return
        self._ln = lambda h=None: None  # type: ignore[method-assign]
        try:
            call()
        finally:
            del self._ln


TABLE_GAP_MM = 1.5


class _Document(FPDF):
    """A4, with a running footer naming the statement and the page."""

    HTML2FPDF_CLASS = _Html

    def __init__(self, footer: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=7)
        self.set_text_color(120, 120, 120)
        self.cell(self.epw * 0.85, 5, self.footer_text)
        self.cell(self.epw * 0.15, 5, f"page {self.page_no()}/{{nb}}", align="R")


def _typeset(page: str) -> str:
    """French punctuation in the text of the page (not in its tags, styles or scripts): a no-break space before
    : ; ? ! and inside « », so that a colon never starts a line."""
    parts = re.split(r"(<style\b.*?</style>|<script\b.*?</script>|<[^>]+>)", page, flags=re.S)
    return "".join(p if p.startswith("<") else french.nb(p) for p in parts)


def _pdf_defaults(body: str) -> str:
    """What a browser does by default and fpdf2 does not: line spacing of paragraphs and lists, left-aligned cells
    (fpdf2 justifies them). Only bare tags are touched: a template's own attributes win."""
    body = body.replace("<p>", '<p line-height="1.25">').replace("<ul>", '<ul line-height="1.25">')
    return re.sub(r"<td>", '<td align="left">', body)


class _missing_glyphs:
    """Collects fpdf2's "missing glyph" warnings (it only logs them) so that a statement never prints a blank."""

    def __enter__(self) -> list[str]:
        self.found: list[str] = []
        self.handler = _Collect(self.found)
        logging.getLogger("fpdf").addHandler(self.handler)
        return self.found

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("fpdf").removeHandler(self.handler)


class _Collect(logging.Handler):
    def __init__(self, found: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.found = found

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "missing" in message.lower() and "glyph" in message.lower():
            self.found.append(message)


def _data_uri(content: bytes) -> str:
    kind = "png" if content.startswith(b"\x89PNG") else "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(content).decode()
