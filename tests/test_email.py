"""The email exporter: one RFC 5322 digest message, read back with the email package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import os
import re
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import html5lib
import pytest
from hypothesis import given
from hypothesis import strategies as st

import storykit
from storykit.email import EmailTemplateError, header_text, unsubscribe_token
from storykit.exporters.email import EmailExporter
from storykit.testing import check_exporter, collections, text

STRICT = policy.default.clone(raise_on_defect=True)
SENDER = "ILO Newsroom <newsroom@ilo.org>"
UNSUB = "https://news.example.org/unsubscribe?u={token}"
BASE_HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}
NS = {"h": "http://www.w3.org/1999/xhtml"}
INJECTIONS = ["\r\n", "\n", "\r", "\x00", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c",
              "\r\n\r\n", "\t"]


def parse(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=STRICT).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


def render(col: storykit.Collection, **options: object) -> bytes:
    options.setdefault("sender", SENDER)
    return storykit.dumps(col, "email", **options)


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(("plain",))
    page = msg.get_body(("html",))
    assert plain is not None and page is not None
    return str(plain.get_content()), str(page.get_content())


def flat(s: str) -> str:
    return " ".join(s.split())


def story_blocks(page: str) -> list[str]:
    """The text a reader sees in each story block (``td.story``) of the HTML part, in order.

    Text nodes only (html5lib's itertext), whitespace-flattened: a value carried in an
    attribute (``title="..."``) is not shown by a mail client, so it does not count.
    """
    doc = html5lib.parse(page, namespaceHTMLElements=False)
    return [flat("".join(td.itertext())) for td in doc.iter("td")
            if "story" in (td.get("class") or "").split()]


@pytest.fixture(scope="module")
def window(example: storykit.Collection) -> storykit.Collection:
    """The stories of 15–23 February 2021, newest first."""
    return example.filter(since="2021-02-15", until="2021-02-23").sort("published", reverse=True)


@pytest.fixture(scope="module")
def digest(window: storykit.Collection) -> bytes:
    return render(window, to="Journalists <journalists@example.org>", unsubscribe=UNSUB,
                  since="2021-02-15", until="2021-02-23")


class TestMessage:
    def test_parses_strictly_with_two_parts_in_order(self, digest: bytes) -> None:
        """The message parses without defects: multipart/alternative, text/plain then HTML."""
        msg = parse(digest)
        assert msg.get_content_type() == "multipart/alternative"
        kinds = [p.get_content_type() for p in msg.iter_parts()]
        assert kinds == ["text/plain", "text/html"]
        for p in msg.iter_parts():
            assert p.get_content_charset() == "utf-8"
        assert msg["MIME-Version"] == "1.0"

    def test_both_parts_hold_every_story(self, digest: bytes, window: storykit.Collection,
                                         ) -> None:
        """Every story of the window is in the text and the HTML part: title, date, summary."""
        plain, page = parts(parse(digest))
        assert len(window) == 3
        for story in window:
            date = storykit.templating.format_date(story.published)
            for part in (flat(plain), flat(page)):
                assert story.title in part
                assert date in part
                assert flat(story.summary) in part
            assert story.url in plain.splitlines()  # a bare URL on a line of its own
        blocks = story_blocks(page)
        assert len(blocks) == len(window)
        for story, block in zip(window, blocks, strict=True):
            # In the story's own block, as visible text (not only somewhere in the source).
            assert story.title in block
            assert storykit.templating.format_date(story.published) in block
            assert flat(story.summary) in block

    def test_headers_are_exactly_these(self, digest: bytes) -> None:
        """The message has exactly the intended headers, no more."""
        msg = parse(digest)
        assert set(msg.keys()) == BASE_HEADERS | {"List-Unsubscribe", "List-Unsubscribe-Post"}
        assert len(msg.keys()) == len(set(msg.keys()))

    def test_default_subject_names_title_and_window(self, digest: bytes) -> None:
        """The default subject is the collection title and the window."""
        assert parse(digest)["Subject"] == "Impact and people — 15–23 February 2021"

    def test_subject_window_defaults_to_the_story_dates(self, window: storykit.Collection,
                                                        ) -> None:
        """Without a requested window the subject spans the dates of the stories."""
        msg = parse(render(window))
        assert msg["Subject"] == "Impact and people — 19–23 February 2021"

    @pytest.mark.parametrize(("since", "until", "expected"), [
        ("2021-01-28", "2021-02-03", "28 January – 3 February 2021"),
        ("2020-12-28", "2021-01-03", "28 December 2020 – 3 January 2021"),
        ("2021-02-23", "2021-02-23", "23 February 2021"),
    ])
    def test_subject_windows_across_months_and_years(self, example: storykit.Collection,
                                                     since: str, until: str,
                                                     expected: str) -> None:
        """Windows across months and years name both ends fully; one day names one date."""
        msg = parse(render(example, since=since, until=until))
        assert msg["Subject"] == f"Impact and people — {expected}"

    def test_addresses_and_reply_to(self, window: storykit.Collection) -> None:
        """From, To and Reply-To read back as the addresses given; several To addresses work."""
        msg = parse(render(window, to="Ana <ana@example.org>, bo@example.org",
                           reply_to="Desk <desk@ilo.org>"))
        assert [a.addr_spec for a in msg["To"].addresses] == ["ana@example.org",
                                                              "bo@example.org"]
        assert msg["From"].addresses[0].display_name == "ILO Newsroom"
        assert msg["Reply-To"].addresses[0].addr_spec == "desk@ilo.org"
        assert set(msg.keys()) == BASE_HEADERS | {"Reply-To"}

    def test_non_ascii_names_are_rfc2047_encoded(self, window: storykit.Collection) -> None:
        """Non-ASCII display names go out as encoded words and read back unchanged."""
        data = render(window, sender="Organização Internacional <oit@ilo.org>",
                      to="Jöhn Dœ <john@example.org>")
        head = data.split(b"\r\n\r\n", 1)[0]
        assert head.isascii()
        assert re.search(rb"^From: =\?utf-8\?", head, re.MULTILINE)
        assert re.search(rb"^To: =\?utf-8\?", head, re.MULTILINE)
        msg = parse(data)
        assert msg["From"].addresses[0].display_name == "Organização Internacional"
        assert msg["To"].addresses[0].display_name == "Jöhn Dœ"

    def test_defaults_without_options(self, window: storykit.Collection) -> None:
        """Without options the sender is the first media contact and To is the sender."""
        msg = parse(storykit.dumps(window, "email"))
        assert msg["From"].addresses[0].addr_spec == "newsroom@ilo.org"
        assert msg["To"].addresses[0].addr_spec == "newsroom@ilo.org"

    def test_bad_addresses_are_rejected(self, window: storykit.Collection) -> None:
        """A malformed address or one with a line break is an OptionError naming the option."""
        for bad in ("not an address", "a@b", "Ana <ana@example.org>\r\nBcc: x@evil.org"):
            with pytest.raises(storykit.OptionError, match="'to'"):
                render(window, to=bad)
        with pytest.raises(storykit.OptionError, match="'sender'"):
            render(window, sender="Evil\nBcc: x@evil.org <a@example.org>")


class TestUnsubscribe:
    def test_https_and_mailto_with_one_click(self, window: storykit.Collection) -> None:
        """An https URL and a mailto give both forms and the RFC 8058 one-click header."""
        msg = parse(render(window, to="ana@example.org", unsubscribe=UNSUB,
                           unsubscribe_mailto="leave@news.example.org"))
        token = unsubscribe_token("ana@example.org")
        assert msg["List-Unsubscribe"] == (
            f"<https://news.example.org/unsubscribe?u={token}>, "
            "<mailto:leave@news.example.org>")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        plain, page = parts(msg)
        assert f"https://news.example.org/unsubscribe?u={token}" in plain
        links = [a.get("href") for a in html5lib.parse(page).iterfind(".//h:a", NS)]
        assert f"https://news.example.org/unsubscribe?u={token}" in links

    def test_mailto_only_has_no_post_header(self, window: storykit.Collection) -> None:
        """Without an https URL there is no List-Unsubscribe-Post header."""
        msg = parse(render(window, unsubscribe_mailto="mailto:leave@news.example.org"))
        assert msg["List-Unsubscribe"] == "<mailto:leave@news.example.org>"
        assert "List-Unsubscribe-Post" not in msg

    def test_no_unsubscribe_no_headers(self, window: storykit.Collection) -> None:
        """Without unsubscribe options neither header appears."""
        assert set(parse(render(window)).keys()) == BASE_HEADERS

    def test_plain_http_is_refused(self, window: storykit.Collection) -> None:
        """An http (not https) unsubscribe URL is an error, not a silent downgrade."""
        with pytest.raises(storykit.OptionError, match="https"):
            render(window, unsubscribe="http://news.example.org/u")

    def test_token_is_stable_or_keyed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The token is a stable hash of the address, an HMAC when a key is set."""
        plain = unsubscribe_token("Ana@Example.org")
        assert plain == unsubscribe_token("ana@example.org")
        assert plain == hashlib.sha256(b"storykit-unsubscribe:ana@example.org").hexdigest()[:32]
        monkeypatch.setenv("STORYKIT_UNSUBSCRIBE_KEY", "s3cret")
        keyed = unsubscribe_token("ana@example.org")
        assert keyed == hmac.new(b"s3cret", b"ana@example.org", hashlib.sha256).hexdigest()[:32]
        assert keyed != plain


class TestParts:
    def test_text_part_has_dates_credits_links_and_is_wrapped(
            self, example: storykit.Collection) -> None:
        """The text part has dates, credits and bare link URLs, prose wrapped at 72 columns."""
        col = example.filter(since="2021-01-27", until="2021-02-03")
        plain, _ = parts(parse(render(col)))
        assert "03 February 2021" in plain
        assert "© Asitha Seneviratne 2021" in plain
        assert "https://voices.ilo.org/" in plain.splitlines()
        for line in plain.splitlines():
            assert len(line) <= 78 or re.fullmatch(r"https?://\S+", line), line
            # Prose is wrapped at 72: only one unbreakable token (a bare URL, a longer word)
            # may stand longer, alone on its line.
            assert len(line) <= 72 or len(line.split()) == 1, line

    def test_html_is_a_table_layout_with_inlined_css(self, digest: bytes) -> None:
        """The HTML is a 600px table layout whose elements carry inline styles."""
        _, page = parts(parse(digest))
        doc = html5lib.parse(page)
        tables = doc.findall(".//h:table", NS)
        assert any(t.get("width") == "600" for t in tables)
        assert all(t.get("role") == "presentation" for t in tables)
        paragraphs = doc.findall(".//h:p", NS)
        assert paragraphs and all("color" in (p.get("style") or "") for p in paragraphs)

    def test_html_supports_dark_mode(self, digest: bytes) -> None:
        """The HTML declares light and dark schemes and keeps a prefers-color-scheme rule."""
        _, page = parts(parse(digest))
        doc = html5lib.parse(page)
        metas = {m.get("name"): m.get("content") for m in doc.iterfind(".//h:meta", NS)}
        assert metas["color-scheme"] == "light dark"
        assert metas["supported-color-schemes"] == "light dark"
        css = " ".join(s.text or "" for s in doc.iterfind(".//h:style", NS))
        assert "prefers-color-scheme: dark" in css

    def test_every_text_colour_has_its_background(self, digest: bytes) -> None:
        """Each element given a text colour sits in a cell that sets its background too."""
        _, page = parts(parse(digest))
        doc = html5lib.parse(page)
        parents = {c: p for p in doc.iter() for c in p}
        for el in doc.iter():
            style = el.get("style") or ""
            if re.search(r"(^|;)\s*color\s*:", style):
                node = el
                while node is not None and "background-color" not in (node.get("style") or ""):
                    node = parents.get(node)
                assert node is not None, f"{el.tag} sets a colour without any background"

    def test_preheader_is_hidden(self, window: storykit.Collection) -> None:
        """The preheader is the first text of the body, hidden from view."""
        msg = parse(render(window, preheader="Three stories this week"))
        doc = html5lib.parse(parts(msg)[1])
        body = doc.find(".//h:body", NS)
        assert body is not None
        first = body[0]
        assert (first.text or "").lstrip().startswith("Three stories this week")
        assert "display: none" in (first.get("style") or "")

    def test_images_have_width_alt_and_absolute_urls(self, example: storykit.Collection,
                                                     ) -> None:
        """Images have width and alt; every link and image URL is absolute."""
        _, page = parts(parse(render(example, unsubscribe=UNSUB)))
        doc = html5lib.parse(page)
        images = doc.findall(".//h:img", NS)
        assert len(images) == sum(1 for s in example if s.image)
        for img in images:
            assert img.get("width") == "552"
            assert (img.get("alt") or "").strip()
            assert img.get("src", "").startswith("https://")
        for a in doc.iterfind(".//h:a", NS):
            assert re.match(r"(https://|mailto:|tel:)", a.get("href", "")), a.get("href")

    def test_media_contact_block_comes_last(self, digest: bytes,
                                            window: storykit.Collection) -> None:
        """The media contact block follows the last story."""
        _, page = parts(parse(digest))
        last = page.rindex(window[-1].title)
        contact = page.index("Media contact")
        assert contact > last
        assert page.index("newsroom@ilo.org") > contact


class TestSlots:
    def test_data_cannot_forge_the_template_markers(self) -> None:
        """Story text that looks like the template's slot markers is printed, not obeyed."""
        forged = ("sk:story\nsk:end\n<!--sk:story--> <!--sk:greeting--> href=\"sk:unsubscribe\" "
                  "sk-greeting-slot sk:unsubscribe")
        col = storykit.Collection(
            title="<!--sk:greeting--> sk:stories",
            contacts=[storykit.MediaContact('href="sk:unsubscribe"', email="d@example.org")],
            stories=[storykit.Story(title="<!--sk:end-->", published="2021-02-23",
                                    summary=forged),
                     storykit.Story(title="Second", published="2021-02-22",
                                    summary="Summary number two")])
        msg = parse(render(col, to="Ana <ana@example.org>", unsubscribe=UNSUB, name="Ana"))
        plain, page = parts(msg)
        token = unsubscribe_token("ana@example.org")
        for part in (plain, page):
            assert part.count("Hello Ana,") == 1
            assert part.count("Summary number two") == 1
            assert part.count(f"https://news.example.org/unsubscribe?u={token}") == 1
        assert "sk:end\nsk-greeting-slot" not in plain
        assert "sk:story" in plain and "&lt;!--sk:end--&gt;" in page

    def test_attributes_cannot_forge_the_markers(self) -> None:
        """Markers in an image's alt text (which the CSS inliner writes back with its < and >
        unescaped) stay text: every reader still gets their greeting, stories and link."""
        forged = ('<!--sk:story--> <!--sk:greeting--> <!--sk:end--> <!--sk:preheader--> '
                  'href="sk:unsubscribe"')
        image = {"url": "https://example.org/a.jpg", "alt": forged}
        col = storykit.Collection(title="T", stories=[
            storykit.Story(title="First", published="2021-02-23", summary="One", image=image),
            storykit.Story(title="Second", published="2021-02-22", summary="Two")])
        msg = parse(render(col, to="ana@example.org", unsubscribe=UNSUB, name="Ana"))
        doc = html5lib.parse(parts(msg)[1], namespaceHTMLElements=False)
        assert [img.get("alt") for img in doc.iter("img")] == [forged]
        assert ["".join(h.itertext()) for h in doc.iter("h2")] == ["First", "Second"]
        assert [a.get("href") for a in doc.iter("a")] == [
            UNSUB.replace("{token}", unsubscribe_token("ana@example.org"))]
        assert parts(msg)[1].count("Hello Ana,") == 1


class TestDeterminism:
    def test_equal_input_equal_bytes(self, window: storykit.Collection,
                                     example_json: Path) -> None:
        """Rendering twice, also in two processes with other hash seeds, gives the same bytes."""
        assert render(window, to="a@example.org") == render(window, to="a@example.org")
        # hash() of a str differs per process (PYTHONHASHSEED): only a second process shows it.
        script = (
            "import sys, storykit\n"
            "col = storykit.load(sys.argv[1]).filter(since='2021-02-15', until='2021-02-23')\n"
            "col = col.sort('published', reverse=True)\n"
            "sys.stdout.buffer.write(storykit.dumps(col, 'email', sender=sys.argv[2],\n"
            "    to='Ana <ana@example.org>, bo@example.org', unsubscribe=sys.argv[3]))\n"
        )
        outputs = []
        for seed in ("1", "2"):
            done = subprocess.run(
                [sys.executable, "-c", script, str(example_json), SENDER, UNSUB],
                env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, check=False)
            assert done.returncode == 0, done.stderr.decode()
            outputs.append(done.stdout)
        assert outputs[0] == outputs[1]
        assert parse(outputs[0])["To"].addresses[0].addr_spec == "ana@example.org"

    def test_date_is_the_newest_story(self, window: storykit.Collection) -> None:
        """The default Date is the newest story's date; Message-ID is at the sender's domain."""
        msg = parse(render(window))
        assert msg["Date"] == "Tue, 23 Feb 2021 00:00:00 +0000"
        assert re.fullmatch(r"<[0-9a-f]{32}@ilo\.org>", msg["Message-ID"])

    def test_message_id_differs_per_recipient(self, window: storykit.Collection) -> None:
        """Two recipients get two Message-IDs."""
        a = parse(render(window, to="a@example.org"))["Message-ID"]
        b = parse(render(window, to="b@example.org"))["Message-ID"]
        assert a != b

    def test_overrides(self, window: storykit.Collection) -> None:
        """date and message_id options set those headers."""
        msg = parse(render(window, date="2021-02-24T08:30:00+01:00",
                           message_id="<digest-7@news.example.org>"))
        assert msg["Date"] == "Wed, 24 Feb 2021 08:30:00 +0100"
        assert msg["Message-ID"] == "<digest-7@news.example.org>"

    def test_check_exporter(self) -> None:
        """The exporter keeps the exporter contract (storykit.testing.check_exporter)."""
        check_exporter(EmailExporter(), max_examples=20)
        check_exporter(EmailExporter(), max_examples=10,
                       options={"to": "Ana <ana@example.org>", "unsubscribe": UNSUB})


_PHRASE_TOKEN = re.compile(r'\s*(?:=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=(?=\s)|"((?:[^"\\]|\\.)*)"'
                           r"|<([^<>\s]+)>$|([^\s\"<]+))")


def raw_header(data: bytes, name: str) -> str:
    """The raw value of header ``name``, unfolded (CR LF before a space removed)."""
    m = re.search(rb"^" + name.encode() + rb": (.*?)\r\n(?![ \t])", data,
                  re.MULTILINE | re.DOTALL)
    assert m is not None, name
    return m.group(1).decode("ascii").replace("\r\n", "")


def rfc_mailbox(data: bytes, header: str) -> tuple[str, str]:
    """The display name and address of a one-address header, read as RFC 2047 readers do.

    Mail clients drop the space between two adjacent encoded words (RFC 2047, 6.2) and keep
    the others; Python 3.11's address parser keeps it too (CPython gh-128110), so this reads
    the header's words the way a mail client shows them.
    """
    value = raw_header(data, header)
    words: list[tuple[str, str]] = []  # (kind, text)
    pos = 0
    while pos < len(value):
        m = _PHRASE_TOKEN.match(value, pos)
        assert m is not None and m.end() > pos, value[pos:]
        pos = m.end()
        ew, quoted, spec, atom = m.groups()
        if spec is not None:
            break
        if ew is not None:
            words.append(("ew", base64.b64decode(ew).decode("utf-8")))
        elif quoted is not None:
            words.append(("q", re.sub(r"\\(.)", r"\1", quoted)))
        else:
            words.append(("atom", atom))
    assert spec is not None and pos == len(value), value
    name = ""
    for i, (kind, text_) in enumerate(words):
        if i and not (kind == "ew" and words[i - 1][0] == "ew"):
            name += " "
        name += text_
    return name, spec


def _check_safe(data: bytes, expected: set[str]) -> EmailMessage:
    for line in data.split(b"\r\n"):
        assert len(line) <= 998
    assert b"\n" not in data.replace(b"\r\n", b"")
    msg = parse(data)
    assert set(msg.keys()) == expected
    assert len(msg.keys()) == len(expected)
    for part in msg.iter_parts():
        assert set(part.keys()) == {"Content-Type", "Content-Transfer-Encoding"}
    return msg


class TestHeaderSafety:
    @given(before=text(max_size=20), sep=st.sampled_from(INJECTIONS),
           after=text(max_size=20))
    def test_subject_cannot_add_a_header(self, before: str, sep: str, after: str) -> None:
        """A subject with line breaks or controls stays one Subject header."""
        col = storykit.Collection(title="T", stories=[])
        subject = f"{before}{sep}Bcc: evil@example.org{sep}{after}"
        msg = _check_safe(render(col, subject=subject), BASE_HEADERS)
        # The stdlib folds a long value onto a continuation line; its parser keeps the space.
        assert msg["Subject"].strip() == header_text(subject)
        assert "Bcc" not in msg

    @given(title=text(max_size=40))
    def test_encoded_words_in_titles_are_neutralised(self, title: str) -> None:
        """An encoded word in a title (CVE-2024-6923) decodes to nothing but the title."""
        evil = f"{title} =?utf-8?q?x=0D=0ABcc:_evil@example.org?= end"
        col = storykit.Collection(title=evil, stories=[
            storykit.Story(title=evil, published="2021-02-23", summary="s")])
        msg = _check_safe(render(col), BASE_HEADERS)
        assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
        assert msg["Subject"].strip().startswith(header_text(evil))

    @given(name=text(max_size=30), sep=st.sampled_from([*INJECTIONS, "=?utf-8?q?=0A?="]))
    def test_display_names_cannot_add_a_header(self, name: str, sep: str) -> None:
        """A subscriber's display name with line breaks or encoded words stays in To."""
        from storykit.digest import PersonalisedRun, Subscriber

        col = storykit.Collection(title="Digest of the week", stories=[
            storykit.Story(title="A story", published="2021-02-23", summary="s")])
        evil = f"{name}{sep}Bcc: evil@example.org"
        run = PersonalisedRun(col, [Subscriber("ana@example.org", evil)], {"sender": SENDER})
        (message,) = list(run)
        msg = _check_safe(message.data, BASE_HEADERS)
        (addr,) = msg["To"].addresses
        assert addr.addr_spec == "ana@example.org"
        assert rfc_mailbox(message.data, "To") == (header_text(evil), "ana@example.org")

    def test_encoded_word_in_sender_name(self, window: storykit.Collection) -> None:
        """An encoded word in the sender's name cannot forge an address or a header."""
        data = render(window, sender='"=?utf-8?q?x=0D=0ABcc:_e@evil.org?=" <a@example.org>',
                      to="=?utf-8?q?y?= <b@example.org>")
        msg = _check_safe(data, BASE_HEADERS)
        assert [a.addr_spec for a in msg["From"].addresses] == ["a@example.org"]
        assert [a.addr_spec for a in msg["To"].addresses] == ["b@example.org"]

    def test_long_values_fold_under_998_octets(self) -> None:
        """A 3,000-character subject and a long title fold into lines under 998 octets."""
        col = storykit.Collection(title="Wörd " * 150, stories=[
            storykit.Story(title="x" * 999, published="2021-02-23", summary="y" * 5000)])
        _check_safe(render(col, subject="Sübject " * 400), BASE_HEADERS)

    @given(col=collections(max_size=4))
    def test_any_collection_parses_strictly(self, col: storykit.Collection) -> None:
        """Any valid collection gives a message that parses without defects."""
        _check_safe(render(col, unsubscribe=UNSUB),
                    BASE_HEADERS | {"List-Unsubscribe", "List-Unsubscribe-Post"})


ILO_ASIA = "International Labour Organization Regional Office for Asia and the Pacific"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_OPENERS = {"\u202a": "\u202c", "\u202b": "\u202c", "\u202d": "\u202c", "\u202e": "\u202c",
            "\u2066": "\u2069", "\u2067": "\u2069", "\u2068": "\u2069"}


def bidi_balanced(value: str) -> bool:
    """Every bidi embedding, override and isolate in ``value`` is closed, in order, inside it."""
    stack: list[str] = []
    for ch in value:
        if ch in _OPENERS:
            stack.append(_OPENERS[ch])
        elif ch in ("\u202c", "\u2069") and (not stack or stack.pop() != ch):
            return False
    return not stack


def one_subscriber(name: str, title: str = "Digest of the week") -> bytes:
    from storykit.digest import PersonalisedRun, Subscriber

    col = storykit.Collection(title=title, stories=[
        storykit.Story(title="A story", published="2021-02-23", summary="s")])
    run = PersonalisedRun(col, [Subscriber("ana@example.org", name)], {"sender": SENDER})
    (message,) = list(run)
    return message.data


class TestDisplayNames:
    def test_long_ascii_sender_reads_back_exactly(self, window: storykit.Collection) -> None:
        """A 74-character ASCII sender name is folded, not encoded, and reads back exactly."""
        data = render(window, sender=f"{ILO_ASIA} <news@example.org>",
                      to=f'"{ILO_ASIA}, Bangkok" <bkk@example.org>')
        msg = parse(data)
        assert msg["From"].addresses[0].display_name == ILO_ASIA
        assert msg["To"].addresses[0].display_name == f"{ILO_ASIA}, Bangkok"
        for header in ("From", "To"):
            assert "=?" not in raw_header(data, header)
        assert rfc_mailbox(data, "From") == (ILO_ASIA, "news@example.org")
        for line in data.split(b"\r\n\r\n")[0].split(b"\r\n"):
            assert len(line) <= 78

    @given(name=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=60,
                        max_size=160))
    def test_any_ascii_name_reads_back_exactly(self, name: str) -> None:
        """Any ASCII display name reads back exactly with policy.default and as mail clients do."""
        name = header_text(name)
        data = one_subscriber(name)
        if not name:
            return
        (addr,) = parse(data)["To"].addresses
        assert (addr.display_name, addr.addr_spec) == (name, "ana@example.org")
        assert rfc_mailbox(data, "To") == (name, "ana@example.org")
        assert "=?" not in raw_header(data, "To")

    @pytest.mark.parametrize("name", [
        "Lucía Fernández-Ölberg von und zu Habsburg-Lothringen",
        "Nguyễn Thị Lan, Regional Office for Asia and the Pacific (Bangkok)",
        "Dr. Lucía Pérez, Jr. \"La Jefa\" de la Oficina Regional para América Latina y el Caribe",
        "رانيا حداد",
        "佐藤 健二 (Kenji Sato), Yangon Liaison Office of the International Labour Organization",
    ])
    def test_long_mixed_names_read_back_exactly(self, name: str) -> None:
        """Names mixing ASCII and non-ASCII words read back exactly with both kinds of reader."""
        data = one_subscriber(name)
        (addr,) = parse(data)["To"].addresses
        assert addr.display_name == name
        assert rfc_mailbox(data, "To") == (name, "ana@example.org")

    @given(name=text(max_size=120))
    def test_any_name_reads_back_as_mail_clients_show_it(self, name: str) -> None:
        """Any display name reads back exactly as RFC 2047 readers decode it; policy.default
        too, unless two encoded words had to be adjacent (CPython gh-128110)."""
        data = one_subscriber(name)
        expected = header_text(name)
        assert rfc_mailbox(data, "To") == (expected, "ana@example.org")
        if not re.search(r"\?=\s+=\?", raw_header(data, "To")):
            assert parse(data)["To"].addresses[0].display_name == expected


class TestInternationalAddresses:
    """Contacts and options may hold internationalised addresses (the model accepts them)."""

    @staticmethod
    def col(*emails: str) -> storykit.Collection:
        return storykit.Collection(
            title="News", contacts=[storykit.MediaContact(f"Desk {i}", email=e)
                                    for i, e in enumerate(emails)],
            stories=[{"title": "A", "published": "2021-02-03", "summary": "S."}])

    def test_an_idn_domain_is_written_in_idna_form(self) -> None:
        """The default sender at bücher.example goes out as xn--bcher-kva.example (what mail
        clients send), in From, To and the Message-ID; it used to raise UnicodeEncodeError."""
        data = storykit.dumps(self.col("press@bücher.example"), "email")
        msg = parse(data)
        assert msg["From"].addresses[0].addr_spec == "press@xn--bcher-kva.example"
        assert msg["To"].addresses[0].addr_spec == "press@xn--bcher-kva.example"
        assert msg["Message-ID"].endswith("@xn--bcher-kva.example>")
        assert data.isascii()

    def test_a_non_ascii_local_part_is_passed_over_for_the_default_sender(self) -> None:
        msg = parse(storykit.dumps(self.col("新闻@例子.中国", "desk@example.org"), "email"))
        assert msg["From"].addresses[0].addr_spec == "desk@example.org"

    def test_a_non_ascii_local_part_as_an_option_is_one_clear_error(self) -> None:
        with pytest.raises(storykit.OptionError, match="non-ASCII local part"):
            storykit.dumps(self.col("desk@example.org"), "email", to="新闻@例子.中国")

    def test_an_idn_domain_as_an_option(self) -> None:
        msg = parse(storykit.dumps(self.col(), "email", sender="Büro <buero@bücher.example>"))
        sender = msg["From"].addresses[0]
        assert (sender.display_name, sender.addr_spec) == ("Büro", "buero@xn--bcher-kva.example")


class TestBidi:
    @given(title=st.text(st.one_of(st.sampled_from(BIDI), st.sampled_from("ab אב -")),
                         min_size=1, max_size=30))
    def test_any_title_leaves_the_subject_balanced(self, title: str) -> None:
        """No title can reverse the rest of the Subject: its bidi controls close inside it."""
        try:
            col = storykit.Collection(title=title, stories=[
                storykit.Story(title="A story", published="2021-02-23", summary="s")])
        except storykit.ValidationError:
            return  # blank once stripped
        subject = parse(render(col))["Subject"]
        head, sep, window = subject.rpartition("— ")  # the title may be only controls
        assert sep and window == "23 February 2021"
        assert bidi_balanced(head) and bidi_balanced(subject)

    @given(name=st.text(st.one_of(st.sampled_from(BIDI), st.sampled_from("ab אב -")),
                        min_size=1, max_size=30))
    def test_any_name_leaves_greeting_and_to_balanced(self, name: str) -> None:
        """A subscriber's name cannot reverse the greeting after it, nor the To header."""
        msg = parse(one_subscriber(name))
        plain, page = parts(msg)
        (greeting,) = [line for line in plain.splitlines() if line.startswith("Hello")]
        (html_greeting,) = [line for line in page.splitlines() if line.startswith("Hello")]
        assert bidi_balanced(html.unescape(html_greeting))
        assert greeting.endswith(",") and bidi_balanced(greeting)
        assert bidi_balanced(msg["To"].addresses[0].display_name)

    def test_unterminated_override_is_closed_where_it_starts(self) -> None:
        """An unterminated RIGHT-TO-LEFT OVERRIDE in a title is closed at the title's end."""
        col = storykit.Collection(title="Impact \u202eand people", stories=[
            storykit.Story(title="A story", published="2021-02-23", summary="s")])
        msg = parse(render(col))
        assert msg["Subject"] == "Impact \u202eand people\u202c — 23 February 2021"

    def test_balanced_controls_are_kept(self) -> None:
        """An isolated right-to-left name, properly closed, is left as it is."""
        title = "Stories from \u2067رانيا حداد\u2069 and friends"
        assert header_text(title) == title
        assert header_text("a\u202cb\u2069c") == "abc"  # closers without an opener go


THEME_HTML = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title>
<style>h2 { color: #b3261e; }</style></head>
<body>
<div style="display: none">{{ preheader }}</div>
<p><!--sk:greeting--></p>
<!--sk:stories-->
{% for story in stories %}
<!--sk:story-->
<h2>{{ story.title }}</h2>
{% endfor %}
<!--sk:end-->
{% if unsubscribe %}<p><a href="sk:unsubscribe">Unsubscribe</a></p>{% endif %}
</body></html>
"""


class TestTemplateMarkers:
    def test_replacement_email_html_with_the_markers_works(
            self, window: storykit.Collection, tmp_path: Path) -> None:
        """A template folder's own email.html that keeps the markers gives each reader theirs."""
        from storykit.digest import PersonalisedRun, Subscriber

        (tmp_path / "email.html").write_text(THEME_HTML, encoding="utf-8")
        col = storykit.Collection(title=window.title, stories=window.stories)
        run = PersonalisedRun(col, [Subscriber("ana@example.org", "Ana"),
                                    Subscriber("bo@example.org", "Bo", countries=("TL",))],
                              {"sender": SENDER, "unsubscribe": UNSUB,
                               "template_dir": str(tmp_path)})
        ana, bo = (parse(m.data) for m in run)
        for msg, name, address in ((ana, "Ana", "ana@example.org"),
                                   (bo, "Bo", "bo@example.org")):
            doc = html5lib.parse(parts(msg)[1], namespaceHTMLElements=False)
            titles = ["".join(h.itertext()) for h in doc.iter("h2")]
            (div,) = doc.iter("div")
            assert "".join(div.itertext()) == " · ".join(titles[:3])
            assert "".join(next(iter(doc.iter("p"))).itertext()).strip() == f"Hello {name},"
            assert [a.get("href") for a in doc.iter("a")] == [
                UNSUB.replace("{token}", unsubscribe_token(address))]
        assert len(list(html5lib.parse(parts(bo)[1]).iter(f"{{{NS['h']}}}h2"))) == 1

    def test_unused_marker_comments_stay_as_written(self, window: storykit.Collection,
                                                    tmp_path: Path) -> None:
        """Comments like markers that are no slot here are left as written; equal bytes twice."""
        extra = "<!--sk:note--><!--sk:preheader-->"
        (tmp_path / "email.html").write_text(THEME_HTML.replace("<body>", "<body>" + extra),
                                             encoding="utf-8")
        first = render(window, template_dir=str(tmp_path), preheader="Fixed")
        assert first == render(window, template_dir=str(tmp_path), preheader="Fixed")
        assert extra in parts(parse(first))[1]

    @pytest.mark.parametrize(("template", "drop", "marker"), [
        ("email.html", "<!--sk:stories-->", "'<!--sk:stories-->'"),
        ("email.html", "<!--sk:end-->", "'<!--sk:end-->'"),
        ("email.html", "<!--sk:greeting-->", "'<!--sk:greeting-->'"),
        ("email.html", 'href="sk:unsubscribe"', "'href=\"sk:unsubscribe\"'"),
        ("email.html", "<!--sk:story-->", "gives 1 '<!--sk:story-->' marker for 3 stories"),
        ("email.txt", "{{ RS }}sk:stories{{ RS }}", "sk:stories<U+001E>"),
        ("email.txt", "{{ RS }}sk:greeting{{ RS }}", "sk:greeting<U+001E>"),
    ])
    def test_a_lost_marker_is_a_clear_error(self, window: storykit.Collection, tmp_path: Path,
                                            template: str, drop: str, marker: str) -> None:
        """A replacement template without a marker is an option error naming the template,
        its folder and the marker, not a plugin's failure."""
        builtin = Path(storykit.templating.BUILTIN_TEMPLATES) / template
        source = builtin.read_text(encoding="utf-8")
        assert drop in source
        if drop == "<!--sk:story-->":
            source = source.replace(drop, "").replace("<!--sk:stories-->",
                                                      "<!--sk:stories-->" + drop)
        else:
            source = source.replace(drop, "")
        (tmp_path / template).write_text(source, encoding="utf-8")
        with pytest.raises(storykit.OptionError) as info:
            render(window, template_dir=str(tmp_path), unsubscribe=UNSUB)
        error = info.value
        assert isinstance(error, EmailTemplateError) and isinstance(error, ValueError)
        assert error.template == template
        assert error.path == str(tmp_path / template)
        message = str(error)
        assert "\n" not in message and "plugin" not in message
        assert message.startswith(f"template {template!r} in {tmp_path} ")
        assert marker in message and "docs/howto/retheme.md" in message

    def test_cli_reports_a_lost_marker_in_one_line(self, example_json: Path,
                                                   tmp_path: Path) -> None:
        """On the command line a template without its markers is one error line, no plugin."""
        from click.testing import CliRunner

        from storykit.cli import main

        (tmp_path / "email.html").write_text(
            "<html><body><h1>{{ title }}</h1>{% for s in stories %}<p>{{ s.title }}</p>"
            "{% endfor %}</body></html>", encoding="utf-8")
        out = tmp_path / "d.eml"
        result = CliRunner().invoke(main, ["export", str(example_json), "--format", "email",
                                           "-O", f"template_dir={tmp_path}", "-o", str(out)])
        assert result.exit_code != 0
        assert result.stderr == (
            f"storykit: error: template 'email.html' in {tmp_path} lacks the "
            "'<!--sk:stories-->' marker (see 'Email templates' in docs/howto/retheme.md)\n")
        assert not out.exists()


def _screenshot_tool() -> Any:
    import importlib.util
    import sys

    tools = Path(__file__).resolve().parents[1] / "tools"
    spec = importlib.util.spec_from_file_location("storykit_tools_screenshot",
                                                  tools / "screenshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.browser
class TestInBrowser:
    @pytest.mark.parametrize("width", [600, 375])
    def test_html_part_fits_the_reading_pane(self, example: storykit.Collection,
                                             tmp_path: Path, width: int) -> None:
        """In headless Chromium the HTML part fits 600px (and a 375px phone) without sideways
        scrolling, and every image loads and has alt text."""
        tool = _screenshot_tool()
        if not tool.chromium_available():
            if os.environ.get("CI"):
                pytest.fail(f"no Chromium at {tool.CHROMIUM}")
            pytest.skip(f"no Chromium at {tool.CHROMIUM}")
        page = tmp_path / "digest.html"
        page.write_text(parts(parse(render(example, unsubscribe=UNSUB)))[1], encoding="utf-8")
        shots = Path(__file__).resolve().parents[1] / "build" / "screenshots"
        with tool.Browser() as browser:
            m = browser.shoot(page, shots / f"email-{width}.png", width=width)
        assert not m.overflows, m.too_wide
        assert m.images == sum(1 for s in example if s.image)
        assert m.images_without_alt == [] and m.broken_images == []
        assert m.blocked == []


class TestNewsroomLayout:
    """The digest reads like a newsroom's: web link, a lead story, linked names, legible."""

    WEB = "https://news.example.org/digests/2021-w07.html"

    @staticmethod
    def doc(data: bytes) -> Any:
        return html5lib.parse(parts(parse(data))[1], namespaceHTMLElements=False)

    @staticmethod
    def classed(doc: Any, tag: str, name: str) -> list[Any]:
        return [e for e in doc.iter(tag) if name in (e.get("class") or "").split()]

    def test_view_in_browser(self, window: storykit.Collection) -> None:
        """``web_url`` is linked first thing in the HTML, and given in the plain text."""
        data = render(window, to="a@example.org", web_url=self.WEB)
        doc = self.doc(data)
        first = next(a for a in doc.iter("a"))
        assert (first.get("href"), flat("".join(first.itertext()))) == (
            self.WEB, "View in your browser")
        assert f"View in your browser: {self.WEB}" in parts(parse(data))[0]
        assert not [a for a in self.doc(render(window, to="a@example.org")).iter("a")
                    if "View in your browser" in "".join(a.itertext())]
        with pytest.raises(storykit.OptionError, match="web_url"):
            render(window, web_url="javascript:alert(1)")

    def test_the_first_story_leads_with_a_column_wide_picture(
            self, window: storykit.Collection) -> None:
        """The newest story leads (class lead, a 600px picture); the others are 552px."""
        doc = self.doc(render(window, to="a@example.org"))
        stories = self.classed(doc, "td", "story")
        assert len(stories) == len(window)
        assert [("lead" in (td.get("class") or "").split()) for td in stories] == [
            True] + [False] * (len(window) - 1)
        assert window[0].title in flat("".join(stories[0].itertext()))
        widths = [img.get("width") for td in stories for img in td.iter("img")]
        pictured = [s for s in window if s.image is not None]
        assert widths == [("600" if s is window[0] else "552") for s in pictured]
        for td in stories:
            for img in td.iter("img"):
                assert "max-width: 100%" in img.get("style", "")

    def test_each_personalised_message_leads_with_its_own_first_story(
            self, window: storykit.Collection) -> None:
        """In a personalised run the lead is each reader's own newest story."""
        from storykit.digest import PersonalisedRun, Subscriber

        topic = window[1].topics[0]
        run = PersonalisedRun(window, [Subscriber("a@example.org", topics=[topic])],
                              {"sender": SENDER})
        (message,) = run
        stories = self.classed(self.doc(message.data), "td", "story")
        mine = [s for s in window if topic.casefold() in {t.casefold() for t in s.topics}]
        assert "lead" in stories[0].get("class")
        assert mine[0].title in flat("".join(stories[0].itertext()))
        assert all("lead" not in td.get("class") for td in stories[1:])

    def test_names_not_raw_urls_and_legible_footer(self, window: storykit.Collection) -> None:
        """Contact and footer links show names; the footer text is at least 14px."""
        doc = self.doc(render(window, to="a@example.org", unsubscribe=UNSUB))
        for block in ("contacts", "footer"):
            (td,) = self.classed(doc, "td", block)
            for a in td.iter("a"):
                assert not flat("".join(a.itertext())).startswith(("http:", "https:"))
        (footer,) = self.classed(doc, "td", "footer")
        sizes = [int(m) for e in footer.iter() for m in re.findall(
            r"font-size:\s*(\d+)px", e.get("style", ""))]
        assert sizes and min(sizes) >= 14

    def test_dark_mode_dims_the_dividers(self, window: storykit.Collection) -> None:
        """The dark-mode rules give the story dividers a dark colour."""
        doc = self.doc(render(window, to="a@example.org"))
        style = "".join("".join(s.itertext()) for s in doc.iter("style"))
        dark = style[style.index("prefers-color-scheme: dark"):]
        assert re.search(r"\.story\s*\{\s*border-bottom-color:\s*#334155", dark)
