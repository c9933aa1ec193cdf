"""Digests: time windows, the digest command, subscribers and personalised messages."""

from __future__ import annotations

import csv
import io
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import html5lib
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import storykit
from storykit.cli import main
from storykit.digest import (
    PersonalisedRun,
    Subscriber,
    Window,
    load_subscribers,
    outbox_name,
    parse_subscribers,
    select,
    window,
)
from storykit.email import unsubscribe_token
from storykit.model import instant

STRICT = policy.default.clone(raise_on_defect=True)
SENDER = "ILO Newsroom <newsroom@ilo.org>"
UNSUB = "https://news.example.org/unsubscribe?u={token}"


def parse(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=STRICT).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


def plain_text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def preview(msg: EmailMessage) -> str:
    """The hidden preview line (preheader) of the HTML part, as an inbox shows it."""
    part = msg.get_body(("html",))
    assert part is not None
    doc = html5lib.parse(str(part.get_content()), namespaceHTMLElements=False)
    (div,) = [d for d in doc.iter("div") if d.get("class") == "preheader"]
    return " ".join("".join(div.itertext()).replace("\u200c", "").split())


def story_blocks(msg: EmailMessage) -> list[str]:
    """The visible text of each story block (``td.story``) of the HTML part, in order.

    Text nodes only, whitespace-flattened: what a mail client shows, not attribute values.
    """
    part = msg.get_body(("html",))
    assert part is not None
    doc = html5lib.parse(str(part.get_content()), namespaceHTMLElements=False)
    return [" ".join("".join(td.itertext()).split()) for td in doc.iter("td")
            if "story" in (td.get("class") or "").split()]


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


class TestWindow:
    def test_since_and_until(self) -> None:
        """--since and --until are inclusive ISO dates; either may be left open."""
        assert window(since="2021-02-01", until="2021-02-28") == Window(date(2021, 2, 1),
                                                                        date(2021, 2, 28))
        assert window(since="2021-02-01") == Window(date(2021, 2, 1), None)
        assert window() == Window(None, None)

    def test_last_days_and_weeks_end_today(self) -> None:
        """--last 7d is the seven days ending today (today injectable); 2w is fourteen."""
        today = date(2021, 2, 23)
        assert window(last="7d", today=today) == Window(date(2021, 2, 17), today)
        assert window(last="2w", today=today) == Window(date(2021, 2, 10), today)
        assert window(last="1d", today=today) == Window(today, today)

    def test_iso_week(self) -> None:
        """--week names an ISO week, Monday to Sunday, including week 53 of long years."""
        assert window(week="2021-W07") == Window(date(2021, 2, 15), date(2021, 2, 21))
        assert window(week="2020-W53") == Window(date(2020, 12, 28), date(2021, 1, 3))

    def test_windows_at_the_ends_of_the_calendar(self) -> None:
        """The last ISO week of 9999 ends in year 10000, and --last can reach back past year
        1: both windows stop at the calendar's end instead of overflowing."""
        assert window(week="9999-W52") == Window(date(9999, 12, 27), date.max)
        assert window(last="9999w", today=date(3, 1, 1)) == Window(date.min, date(3, 1, 1))

    def test_month(self) -> None:
        """--month names a calendar month, leap Februaries included."""
        assert window(month="2021-02") == Window(date(2021, 2, 1), date(2021, 2, 28))
        assert window(month="2024-02") == Window(date(2024, 2, 1), date(2024, 2, 29))

    @pytest.mark.parametrize(("kwargs", "message"), [
        ({"week": "2021-W53"}, "not an ISO week"),
        ({"week": "2021-07"}, "not an ISO week"),
        ({"month": "2021-13"}, "not a month"),
        ({"last": "7y"}, "days or weeks"),
        ({"last": "0d"}, "days or weeks"),
        ({"since": "2021-02-30"}, "--since"),
        ({"since": "2021-03-01", "until": "2021-02-01"}, "after --until"),
        ({"week": "2021-W07", "month": "2021-02"}, "only one of"),
        ({"since": "2021-02-01", "last": "7d"}, "only one of"),
    ])
    def test_bad_windows_say_what_is_wrong(self, kwargs: dict[str, str], message: str) -> None:
        """A bad window raises ValueError naming the option and the problem."""
        with pytest.raises(ValueError, match=message):
            window(**kwargs)  # type: ignore[arg-type]

    def test_select_keeps_the_window_newest_first(self, example: storykit.Collection) -> None:
        """select() keeps the stories of the window (and topic), newest first."""
        col = select(example, window(month="2021-02"))
        assert [s.published.day for s in col] == [23, 22, 19, 11, 3, 1]
        col = select(example, window(month="2021-02"), topic="covid-19")
        assert len(col) == 2


class TestDigestCommand:
    def test_writes_an_email_digest(self, example_json: Path, tmp_path: Path) -> None:
        """The digest command writes one message holding the stories of the window."""
        out = tmp_path / "digest.eml"
        code, _, err = run("digest", example_json, "--since", "2021-02-15", "--until",
                           "2021-02-23", "-O", f"sender={SENDER}", "-o", out)
        assert code == 0, err
        msg = parse(out.read_bytes())
        assert msg["Subject"] == "Impact and people — 15–23 February 2021"
        text = plain_text(msg)
        for title in ("Can digital labour platforms", "Additional incomes",
                      "A fight for survival"):
            assert title in text
        assert "Paving the way" not in text

    def test_format_json(self, example_json: Path) -> None:
        """--format json writes the window's stories as a collection that loads back."""
        code, out, _ = run("digest", example_json, "--week", "2021-W07", "--format", "json")
        assert code == 0
        col = storykit.loads(out, "json")
        assert col.title == "Impact and people"
        assert [s.id for s in col] == ["a-fight-for-survival-amid-the-pandemic"]

    def test_format_from_suffix_csv(self, example_json: Path, tmp_path: Path) -> None:
        """The format can come from -o's suffix: a month as CSV."""
        out = tmp_path / "january.csv"
        code, _, _ = run("digest", example_json, "--month", "2021-01", "-o", out)
        assert code == 0
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        assert len(rows) == 4
        assert all(r["published"].startswith("2021-01") for r in rows)

    def test_last_with_fixed_today(self, example_json: Path) -> None:
        """--last 7d counts back from today (fixed here with the hidden --today)."""
        code, out, _ = run("digest", example_json, "--last", "7d", "--today", "2021-02-23",
                           "--format", "json")
        assert code == 0
        assert [s.published.day for s in storykit.loads(out, "json")] == [23, 22, 19]

    def test_an_archive_of_json_lines_is_read_a_story_at_a_time(
            self, example: storykit.Collection, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> None:
        """A JSON Lines archive is never read whole (so no size limit applies): the window's
        stories come out as from the same collection in JSON, and a bad story anywhere in the
        archive still fails the digest, as when it is loaded whole."""
        archive = tmp_path / "archive.jsonl"
        archive.write_bytes(storykit.dumps(example, "json", shape="lines"))
        loads = storykit.loads
        monkeypatch.setattr("storykit.read.loads", lambda *a, **k: pytest.fail("read whole"))
        code, out, err = run("digest", archive, "--month", "2021-02", "--topic", "covid-19",
                             "--format", "json")
        assert code == 0, err
        expected = select(example, window(month="2021-02"), "covid-19")
        assert len(expected) >= 2
        assert loads(out, "json").stories == expected.stories
        with archive.open("a", encoding="utf-8") as f:
            f.write('{"title": "Old", "published": "2015-02-30", "summary": "x"}\n')
        code, _, err = run("digest", archive, "--week", "2021-W07", "--format", "json")
        assert code == 1
        assert "line 11: stories[10].published: '2015-02-30' is not a valid date" in err

    def test_a_document_too_big_to_read_whole_says_what_works(
            self, example: storykit.Collection, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> None:
        """A JSON document over the size read whole: exit 1 and one line that says so and
        what works (JSON Lines), not load()'s max_bytes= hint; the same stories as JSON Lines
        make the digest, whatever the limit."""
        doc = storykit.dump(example, tmp_path / "archive.json")
        lines = storykit.dump(example, tmp_path / "archive.jsonl")
        monkeypatch.setattr("storykit.read.MAX_BYTES", 100)
        code, _, err = run("digest", doc, "--month", "2021-02", "--format", "json")
        assert code == 1
        assert err.startswith(f"storykit: error: {doc} is {doc.stat().st_size:,} bytes, more "
                              "than the 100 of a file read whole, which a digest of a document "
                              "needs; save the archive as JSON Lines or CSV to stream it")
        assert "max_bytes" not in err
        code, out, err = run("digest", lines, "--month", "2021-02", "--format", "json")
        assert code == 0, err
        assert storykit.loads(out, "json").stories == select(
            example, window(month="2021-02")).stories

    def test_empty_window_writes_nothing(self, example_json: Path, tmp_path: Path) -> None:
        """An empty window says so on stderr, writes nothing and exits 1."""
        out = tmp_path / "digest.eml"
        code, _, err = run("digest", example_json, "--month", "2020-06", "-o", out)
        assert code == 1
        assert "no stories" in err and "2020-06-01 to 2020-06-30" in err
        assert "--allow-empty" in err
        assert not out.exists()

    def test_allow_empty_writes_an_empty_digest(self, example_json: Path,
                                                tmp_path: Path) -> None:
        """--allow-empty writes a message for an empty window, named after the window."""
        out = tmp_path / "digest.eml"
        code, _, _ = run("digest", example_json, "--month", "2020-06", "--allow-empty",
                         "-o", out)
        assert code == 0
        msg = parse(out.read_bytes())
        assert msg["Subject"] == "Impact and people — 1–30 June 2020"
        assert msg["Date"] == "Tue, 30 Jun 2020 00:00:00 +0000"

    def test_two_windows_is_a_usage_error(self, example_json: Path) -> None:
        """Two ways of naming the window at once is a usage error (exit 2)."""
        code, _, err = run("digest", example_json, "--week", "2021-W07", "--month", "2021-02")
        assert code == 2
        assert "only one of" in err

    def test_topic(self, example_json: Path) -> None:
        """--topic keeps only stories of that topic (case-insensitive)."""
        code, out, _ = run("digest", example_json, "--month", "2021-01", "--topic", "SKILLS",
                           "--format", "json")
        assert code == 0
        assert [s.id for s in storykit.loads(out, "json")] == ["from-prison-to-a-better-life"]

    def test_check_warns_and_strict_fails(self, example_json: Path, tmp_path: Path) -> None:
        """--check prints preflight warnings; with --strict they fail and nothing is written."""
        out = tmp_path / "digest.eml"
        args = ["digest", example_json, "--week", "2021-W07", "-o", out, "--check",
                "-O", "to=journalists@example.org"]
        code, _, err = run(*args)
        assert code == 0
        assert "warning" in err and "no-unsubscribe" in err
        out.unlink()
        code, _, err = run(*args, "--strict")
        assert code == 1
        assert "no-unsubscribe" in err
        assert not out.exists()
        code, _, err = run(*args, "--strict", "-O", f"unsubscribe={UNSUB}")
        assert code == 0, err
        assert out.exists()

    def test_check_needs_email(self, example_json: Path) -> None:
        """--check with another format is a usage error."""
        code, _, _ = run("digest", example_json, "--week", "2021-W07", "--format", "json",
                         "--check")
        assert code == 2


SUBSCRIBERS = """email,name,topics,countries,language
ana@example.org,Ana Lopez,COVID-19,,
bo@example.org,Bo,,PH;LK,
chen@example.org,,mining,,
dee@example.org,Dée Français,platform economy|gender equality,,fr
"""


class TestSubscribers:
    def test_parse(self) -> None:
        """Topics and countries are ;- or |-separated lists; empty cells are None or ()."""
        subs = parse_subscribers(SUBSCRIBERS)
        assert subs[0] == Subscriber("ana@example.org", "Ana Lopez", ("COVID-19",), (), None)
        assert subs[1].countries == ("PH", "LK")
        assert subs[2].name is None
        assert subs[3].topics == ("platform economy", "gender equality")
        assert subs[3].language == "fr"

    def test_every_bad_row_is_reported(self, tmp_path: Path) -> None:
        """Bad addresses, countries, languages and duplicates are reported at once, by line."""
        path = tmp_path / "subs.csv"
        path.write_text("email,name,topics,countries,language\n"
                        "not-an-address,A,,,\n"
                        "ok@example.org,B,,XX,\n"
                        "OK@example.org,C,,,\n"
                        "d@example.org,D,,,not a tag\n", encoding="utf-8")
        with pytest.raises(storykit.ValidationError) as info:
            load_subscribers(path)
        text = str(info.value)
        assert len(info.value.errors) == 4
        assert "subscribers[0].email" in text and "subscribers[1].countries" in text
        assert "already on line 3" in text and "subscribers[3].language" in text

    def test_unknown_column(self) -> None:
        """A column that is not a subscriber field is an error naming it."""
        with pytest.raises(storykit.ValidationError, match="'mail'"):
            parse_subscribers("mail,name\na@example.org,A\n")


_LOCAL = st.text("abcXYZ019.!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=70)


class TestOutboxNames:
    @given(st.lists(st.tuples(_LOCAL, st.sampled_from(["example.org", "ex-ample.co.uk"])),
                    min_size=2, max_size=6))
    def test_different_mailboxes_never_share_a_file(self, pairs: list[tuple[str, str]]) -> None:
        """Addresses that differ other than by case get different, short, plain file names."""
        addresses = {f"{local}@{domain}".lower() for local, domain in pairs}
        names = {outbox_name(a) for a in addresses}
        assert len(names) == len(addresses)
        for name in names:
            assert len(f".{name}.tmp".encode()) <= 255
            assert "/" not in name and not name.startswith(".") and name.endswith(".eml")

    def test_plain_addresses_keep_their_readable_name(self) -> None:
        """An everyday address is its own file name, in lower case."""
        assert outbox_name("Lucia.Fernandez@Example.org") == "lucia.fernandez@example.org.eml"
        assert outbox_name("a/b@example.org") == "a_b@example.org~bb02eab6974b.eml"

    def test_a_long_or_unusual_address_gets_its_message(self, example: storykit.Collection,
                                                        tmp_path: Path) -> None:
        """Addresses that would collide or overflow a file name each get their own file."""
        from storykit.digest import write_outbox

        local = "x" * 64
        subs = [Subscriber(f"{local}@{'d' * 60}.{'e' * 60}.{'f' * 60}.org"),
                Subscriber("a/b@example.org"), Subscriber("a_b@example.org"),
                Subscriber("a!b@example.org"), Subscriber("o'brien@example.org")]
        run = PersonalisedRun(example, subs, {"sender": SENDER})
        paths = write_outbox(run, tmp_path / "outbox")
        assert len(paths) == len(set(paths)) == 5
        got = sorted(str(parse(p.read_bytes())["To"]) for p in paths)
        assert got == sorted(s.email for s in subs)


class TestPersonalised:
    @pytest.fixture
    def february(self, example: storykit.Collection) -> storykit.Collection:
        return select(example, window(month="2021-02"))

    def test_each_gets_only_their_stories(self, february: storykit.Collection) -> None:
        """Each message holds only the stories of the subscriber's topics and countries."""
        run_ = PersonalisedRun(february, parse_subscribers(SUBSCRIBERS),
                               {"sender": SENDER, "unsubscribe": UNSUB})
        messages = {m.subscriber.email: m for m in run_}
        assert [s.email for s in run_.skipped] == ["chen@example.org"]
        assert set(messages) == {"ana@example.org", "bo@example.org", "dee@example.org"}
        expected = {
            "ana@example.org": {"Additional incomes help", "A fight for survival"},
            "bo@example.org": {"Paving the way", "A song to let children fly"},
            "dee@example.org": {"Can digital labour platforms", "Paving the way"},
        }
        for address, titles in expected.items():
            msg = parse(messages[address].data)
            assert messages[address].stories == len(titles)
            text = plain_text(msg)
            for story in february:
                assert any(story.title.startswith(t) for t in titles) == (story.title in text)
            # The HTML part, read as a mail client shows it, holds the same stories only.
            blocks = story_blocks(msg)
            assert len(blocks) == len(titles)
            html_part = msg.get_body(("html",))
            assert html_part is not None
            body = html5lib.parse(str(html_part.get_content()),
                                  namespaceHTMLElements=False).find("body")
            assert body is not None
            visible = " ".join("".join(body.itertext()).split())
            for story in february:
                mine = any(story.title.startswith(t) for t in titles)
                assert mine == any(story.title in block for block in blocks)
                assert mine == (story.title in visible)
                if mine:
                    assert any(" ".join(story.summary.split()) in block for block in blocks)
            assert msg["To"].addresses[0].addr_spec == address
            token = unsubscribe_token(address)
            assert msg["List-Unsubscribe"] == (
                f"<https://news.example.org/unsubscribe?u={token}>")

    def test_greeting_language_and_ids(self, february: storykit.Collection) -> None:
        """First names greet the reader, language sets dates, and each message has its own id."""
        run_ = PersonalisedRun(february, parse_subscribers(SUBSCRIBERS), {"sender": SENDER})
        messages = {m.subscriber.email: parse(m.data) for m in run_}
        assert "Hello Ana," in plain_text(messages["ana@example.org"])
        assert "Lopez" not in plain_text(messages["ana@example.org"])
        assert "23 février 2021" in plain_text(messages["dee@example.org"])
        ids = {m["Message-ID"] for m in messages.values()}
        assert len(ids) == 3

    def test_greeting_name_column(self, february: storykit.Collection) -> None:
        """A ``greeting_name`` column says what to call the reader, in both parts."""
        subs = parse_subscribers("email,name,greeting_name\n"
                                 "amara@example.org,Amara Okafor,Dr Okafor\n"
                                 "ama@example.org,Amara Okafor,\n")
        messages = {m.subscriber.email: parse(m.data)
                    for m in PersonalisedRun(february, subs, {"sender": SENDER})}
        assert "Hello Dr Okafor," in plain_text(messages["amara@example.org"])
        assert "Hello Amara," in plain_text(messages["ama@example.org"])
        page = messages["ama@example.org"].get_body(("html",))
        assert page is not None and "Hello Amara," in page.get_content()

    def test_cli_outbox(self, example_json: Path, tmp_path: Path) -> None:
        """--subscribers with --outbox writes one .eml per subscriber and counts the skipped."""
        subs = tmp_path / "subs.csv"
        subs.write_text(SUBSCRIBERS, encoding="utf-8")
        outbox = tmp_path / "outbox"
        code, _, err = run("digest", example_json, "--month", "2021-02", "--subscribers", subs,
                           "--outbox", outbox, "-O", f"sender={SENDER}", "-O",
                           f"unsubscribe={UNSUB}", "--check")
        assert code == 0, err
        assert "wrote 3 messages" in err and "skipped 1 subscriber " in err
        files = sorted(p.name for p in outbox.iterdir())
        assert files == sorted(outbox_name(a) for a in ("ana@example.org", "bo@example.org",
                                                        "dee@example.org"))
        for f in outbox.iterdir():
            parse(f.read_bytes())

    def test_preview_and_date_come_from_their_own_stories(self, example_json: Path,
                                                           february: storykit.Collection,
                                                           ) -> None:
        """A message's Date and inbox preview come from its reader's stories, not the run's."""
        # Without a description the preview lists the first titles of the message's stories.
        col = storykit.Collection(title=february.title, language=february.language,
                                  contacts=february.contacts, stories=february.stories)
        subscribers = load_subscribers(example_json.parent / "subscribers.csv")
        messages = list(PersonalisedRun(col, subscribers, {"sender": SENDER}))
        assert len(messages) == 6
        for message in messages:
            msg = parse(message.data)
            text = plain_text(msg)
            mine = [s for s in february if s.title in text]
            assert len(mine) == message.stories
            assert msg["Date"].datetime == max(instant(s.published) for s in mine)
            assert preview(msg) == " · ".join(s.title for s in mine[:3])
        lucia = parse(next(m for m in messages if m.subscriber.email.startswith("lucia")).data)
        assert lucia["Date"] == "Mon, 01 Feb 2021 00:00:00 +0000"
        assert preview(lucia) == ("Labour, freedom and happiness: The great driving forces of "
                                  "antiquity")

    def test_description_is_everyones_preview(self, february: storykit.Collection) -> None:
        """With a description (or a preheader option) every message has that preview."""
        run_ = PersonalisedRun(february, parse_subscribers(SUBSCRIBERS), {"sender": SENDER})
        for message in run_:
            assert february.description is not None
            assert preview(parse(message.data)) == february.description
        run_ = PersonalisedRun(february, parse_subscribers(SUBSCRIBERS),
                               {"sender": SENDER, "preheader": "New this month"})
        assert {preview(parse(m.data)) for m in run_} == {"New this month"}

    def test_cli_subscribers_need_an_outbox(self, example_json: Path, tmp_path: Path) -> None:
        """--subscribers without --outbox (and without --check) is a usage error."""
        subs = tmp_path / "subs.csv"
        subs.write_text(SUBSCRIBERS, encoding="utf-8")
        code, _, _ = run("digest", example_json, "--month", "2021-02", "--subscribers", subs)
        assert code == 2


class TestDemoDigest:
    """The digest `make demo` writes to build/digest.eml, made here by the Makefile's own line."""

    @staticmethod
    def demo_arguments(root: Path, out: Path) -> list[str]:
        """The arguments of the demo target's `storykit digest` command, read from the Makefile."""
        import shlex

        makefile = (root / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
        line = next(x for x in makefile.splitlines() if "$(STORYKIT) digest" in x)
        words = shlex.split(line.split("$(STORYKIT)", 1)[1])
        words = [w.replace("$(EXAMPLE)", str(root / "examples/impact-and-people/stories.json"))
                 for w in words]
        i = words.index("-o")
        words[i + 1] = str(out)
        return words

    def test_every_story_of_the_window_is_in_both_parts(
            self, example: storykit.Collection, tmp_path: Path) -> None:
        """build/digest.eml parses strictly and holds every story of its window in both parts."""
        root = Path(__file__).resolve().parents[1]
        out = tmp_path / "digest.eml"
        code, _, err = run(*self.demo_arguments(root, out))
        assert code == 0, err
        msg = parse(out.read_bytes())
        assert msg.get_content_type() == "multipart/alternative"
        text = plain_text(msg)
        html_part = msg.get_body(("html",))
        assert html_part is not None
        import html5lib

        tree = html5lib.parse(str(html_part.get_content()), namespaceHTMLElements=False)
        html_text = " ".join(" ".join(tree.itertext()).split())
        expected = select(example, window(since="2021-02-15", until="2021-02-23"))
        assert len(expected) == 3
        for story in expected:
            assert story.title in text
            assert story.title in html_text
            assert " ".join(story.summary.split()) in text
        blocks = story_blocks(msg)
        assert len(blocks) == len(expected)
        for story, block in zip(expected, blocks, strict=True):
            # Each story's own block shows its title and its whole summary as visible text.
            assert story.title in block
            assert " ".join(story.summary.split()) in block
        for story in example:
            if story not in expected:
                assert story.title not in text


class TestSubscriberChecks:
    """Subscriber() checks and normalises its fields by the rules of a subscribers CSV row."""

    def test_a_str_for_topics_or_countries_is_refused(self) -> None:
        """A bare string is not taken letter by letter: the error says how to give one."""
        with pytest.raises(storykit.ValidationError) as info:
            Subscriber("ana@example.org", topics="decent work")  # type: ignore[arg-type]
        (problem,) = info.value.errors
        assert problem.path == "topics"
        assert "must be a list of strings (got str 'decent work')" in problem.message
        assert "('decent work',)" in problem.message
        with pytest.raises(storykit.ValidationError, match=r"countries: must be a list"):
            Subscriber("ana@example.org", countries="TL")  # type: ignore[arg-type]

    def test_countries_upper_cased_and_checked(self, example: storykit.Collection) -> None:
        """``("tl",)`` is ``("TL",)`` and gets the Timor-Leste stories; ``"xx"`` is refused."""
        sub = Subscriber("ana@example.org", countries=["tl"])
        assert sub.countries == ("TL",)
        assert sub == Subscriber("ana@example.org", countries=("TL",))
        run_ = PersonalisedRun(example, [sub], {"sender": SENDER})
        (message,) = list(run_)
        assert message.stories == sum("TL" in s.countries for s in example) > 0
        with pytest.raises(storykit.ValidationError) as info:
            Subscriber("ana@example.org", countries=("TL", "xx"))
        assert [e.path for e in info.value.errors] == ["countries[1]"]

    def test_every_problem_at_once_with_its_path(self) -> None:
        """A bad address, topic, name and language are each reported, by field."""
        with pytest.raises(storykit.ValidationError) as info:
            Subscriber("not-an-email", 5, [b"jobs", ""], (), "not a tag")  # type: ignore[arg-type]
        assert [e.path for e in info.value.errors] == [
            "email", "name", "topics[0]", "topics[1]", "language"]
        assert str(info.value.errors[0]) == ("email: 'not-an-email' is not a valid email address "
                                             "(An email address must have an @-sign.)")

    def test_normalised_as_a_csv_row_is(self) -> None:
        """Subscriber() and parse_subscribers() give equal subscribers for the same values."""
        (from_csv,) = parse_subscribers("email,name,topics,countries,language\n"
                                        " ana@example.org , Ana ,jobs, lk;ph ,EN-us\n")
        direct = Subscriber(" ana@example.org ", " Ana ", ["jobs"], ["lk", "ph"], "EN-us")
        assert direct == from_csv
        assert direct == Subscriber("ana@example.org", "Ana", ("jobs",), ("LK", "PH"), "en-US")

    def test_still_frozen_with_its_field_names(self) -> None:
        """The class keeps its contract: frozen attrs class, same fields, evolve checks too."""
        import attrs

        sub = Subscriber("ana@example.org")
        assert [f.name for f in attrs.fields(Subscriber)] == [
            "email", "name", "topics", "countries", "language", "greeting_name"]
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            sub.email = "bo@example.org"  # type: ignore[misc]
        assert attrs.evolve(sub, countries=["id"]).countries == ("ID",)


class TestRunsAndDuplicates:
    """PersonalisedRun counts each run afresh; one mailbox never gets two messages."""

    def test_a_second_iteration_starts_fresh(self, example: storykit.Collection) -> None:
        """Iterating twice gives the same messages and the same counts, not double."""
        subs = [Subscriber("ana@example.org", countries=["TL"]),
                Subscriber("bo@example.org", topics=["no such topic"])]
        run_ = PersonalisedRun(example, subs, {"sender": SENDER})
        first = [m.subscriber for m in run_]
        counts = (run_.sent, [s.email for s in run_.skipped])
        second = [m.subscriber for m in run_]
        assert first == second == [subs[0]]
        assert (run_.sent, [s.email for s in run_.skipped]) == counts == (1, ["bo@example.org"])

    def test_same_address_in_other_case_is_refused(self, example: storykit.Collection) -> None:
        """``Ana@Example.org`` after ``ana@example.org`` is named, before anything is made."""
        with pytest.raises(storykit.ValidationError) as info:
            PersonalisedRun(example, [Subscriber("ana@example.org"),
                                      Subscriber("bo@example.org"),
                                      Subscriber("Ana@Example.org")], {"sender": SENDER})
        (problem,) = info.value.errors
        assert problem.path == "subscribers[2].email"
        assert "'Ana@example.org' is the address of subscribers[0] ('ana@example.org')" in str(
            problem)

    def test_write_outbox_never_overwrites(self, example: storykit.Collection,
                                           tmp_path: Path) -> None:
        """Two messages for one mailbox: a ValueError before the second, the first intact."""
        from storykit.digest import write_outbox

        (ana,) = PersonalisedRun(example, [Subscriber("ana@example.org", "Ana")],
                                 {"sender": SENDER})
        (ana2,) = PersonalisedRun(example, [Subscriber("Ana@Example.org", "Other")],
                                  {"sender": SENDER})
        outbox = tmp_path / "outbox"
        for durable in (False, True):
            with pytest.raises(ValueError, match=r"two messages for one mailbox: "
                                                 r"'Ana@example.org' and 'ana@example.org'"):
                write_outbox([ana, ana2], outbox, durable=durable)
            (path,) = outbox.iterdir()
            assert parse(path.read_bytes())["To"].addresses[0].display_name == "Ana"


    def test_a_rerun_replaces_each_file_and_leaves_no_temporary(
            self, example: storykit.Collection, tmp_path: Path) -> None:
        """Writing into an outbox that has the files: each is replaced whole (a symlink at
        a file's name is replaced, not followed), and only the .eml files remain."""
        from storykit.digest import write_outbox

        subs = [Subscriber("ana@example.org", "Ana"), Subscriber("bo@example.org", "Bo")]
        outbox = tmp_path / "outbox"
        write_outbox(PersonalisedRun(example, subs, {"sender": SENDER}), outbox)
        victim = tmp_path / "victim.txt"
        victim.write_text("untouched")
        (outbox / "bo@example.org.eml").unlink()
        (outbox / "bo@example.org.eml").symlink_to(victim)
        renamed = [Subscriber("ana@example.org", "Ana Again"), subs[1]]
        paths = write_outbox(PersonalisedRun(example, renamed, {"sender": SENDER}), outbox)
        assert sorted(p.name for p in outbox.iterdir()) == sorted(p.name for p in paths) == [
            "ana@example.org.eml", "bo@example.org.eml"]
        assert parse(paths[0].read_bytes())["To"].addresses[0].display_name == "Ana Again"
        assert not paths[1].is_symlink()
        assert victim.read_text() == "untouched"


class TestWindowArguments:
    """window() takes an int for last and a date for week or month; other types: TypeError."""

    def test_int_days_and_dates(self) -> None:
        """``last=7`` is ``"7d"``; a date for month or week is the month or week it is in."""
        today = date(2021, 2, 23)
        assert window(last=7, today=today) == window(last="7d", today=today)
        assert window(month=date(2021, 2, 14)) == window(month="2021-02")
        assert window(week=date(2021, 2, 17)) == window(week="2021-W07")

    def test_zero_or_negative_days(self) -> None:
        """``last=0`` is a ValueError (not silently no window), showing the value given."""
        for bad in (0, -3):
            with pytest.raises(ValueError, match=rf"^--last: {bad} is not a number of days"):
                window(last=bad)

    @pytest.mark.parametrize(("kwargs", "name"), [
        ({"last": True}, "last"), ({"last": 7.0}, "last"), ({"month": 202102}, "month"),
        ({"week": 7}, "week"), ({"since": 20210201}, "since"), ({"today": "2021-02-01"}, "today")])
    def test_other_types(self, kwargs: dict[str, object], name: str) -> None:
        """A value of a type the argument does not take is a TypeError naming it."""
        with pytest.raises(TypeError, match=rf"^window\({name}=\.\.\.\): must be a "):
            window(**kwargs)  # type: ignore[arg-type]


class TestConstantMemory:
    """A personalised run holds one subscriber at a time: memory does not grow with them."""

    @staticmethod
    def peak_rss_kib(source: Path, subscribers: int, tmp_path: Path) -> int:
        """Peak RSS (KiB) of ``storykit digest --subscribers`` for that many subscribers.

        The digest runs in a child of a small wrapper process, whose RUSAGE_CHILDREN then holds
        that one run alone (the test process's own children would count every earlier test).
        """
        import csv as csv_module
        import subprocess
        import sys

        subs = tmp_path / f"subs-{subscribers}.csv"
        with subs.open("w", newline="", encoding="utf-8") as f:
            writer = csv_module.writer(f)
            writer.writerow(["email", "name", "topics"])
            for i in range(subscribers):
                # Every fourth follows a topic of no story: skipped, and counted.
                writer.writerow([f"reader{i}@example.org", f"Reader {i} Number",
                                 "no such topic" if i % 4 == 3 else ""])
        outbox = tmp_path / f"outbox-{subscribers}"
        command = [sys.executable, "-m", "storykit", "digest", str(source), "--month",
                   "2021-02", "--subscribers", str(subs), "--outbox", str(outbox),
                   "-O", f"sender={SENDER}", "-O", f"unsubscribe={UNSUB}"]
        wrapper = ("import resource, subprocess, sys\n"
                   "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                   "assert done.returncode == 0, done.stderr\n"
                   "print(done.stderr.strip())\n"
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
        done = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        summary, peak = done.stdout.strip().splitlines()
        written = subscribers - subscribers // 4
        assert summary.startswith(f"wrote {written} messages to {outbox}")
        assert summary.endswith(f"skipped {subscribers // 4} subscribers with no stories in "
                                "the window")
        assert len(list(outbox.glob("*.eml"))) == written
        return int(peak)

    @pytest.mark.slow
    def test_peak_rss_does_not_grow_with_subscribers(self, example_json: Path,
                                                     tmp_path: Path) -> None:
        """2,000 and 20,000 subscribers peak within a few MB of each other (a growth test:
        the list-holding run took about 0.8 KB a subscriber, 14 MB more here)."""
        small = self.peak_rss_kib(example_json, 2_000, tmp_path)
        large = self.peak_rss_kib(example_json, 20_000, tmp_path)
        print(f"peak RSS: {small} KiB for 2,000, {large} KiB for 20,000")
        assert large - small < 4 * 1024, (small, large)
