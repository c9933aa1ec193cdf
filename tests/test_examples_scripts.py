"""The example scripts in examples/ do what their --help says, on the example data.

Each script is run as a user runs it (a subprocess, from a temporary folder), and its outputs are
read back with real clients: html5lib for the page, the ``email`` parser (strict policy) for the
digests, ``csv`` and ``storykit.load`` for the partner files.
"""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import ModuleType

import pytest
from html_support import parse_html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import storykit

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = EXAMPLES / "impact-and-people"
SCRIPTS = ("weekly_digest.py", "partner_export.py", "personalised.py")
STRICT = policy.default.clone(raise_on_defect=True)
COLLECTION = storykit.load(DATA / "stories.json")


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_message(path: Path) -> EmailMessage:
    with path.open("rb") as f:
        msg = BytesParser(policy=STRICT).parse(f)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(msg: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a multipart/alternative message."""
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    page = msg.get_body(("html",))
    assert text is not None and page is not None
    return str(text.get_content()), str(page.get_content())


def page_text(html: str) -> str:
    """The text of an HTML document, parsed strictly by html5lib."""
    return " ".join(" ".join(parse_html(html).itertext()).split())


def titles_in(text: str) -> set[str]:
    flat = " ".join(text.split())
    return {s.title for s in COLLECTION if " ".join(s.title.split()) in flat}


class TestHelp:
    @pytest.mark.parametrize("script", SCRIPTS)
    def test_help_runs_and_shows_an_example(self, script: str, tmp_path: Path) -> None:
        """``--help`` exits 0 and shows a usage line and an example command."""
        proc = run(script, "--help", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"usage: {script}")
        assert f"example: {script}" in proc.stdout


class TestWeeklyDigest:
    def test_week_to_23_february_as_page_and_email(self, tmp_path: Path) -> None:
        """The week to 2021-02-23 holds exactly its three stories, in the page and both parts."""
        proc = run("weekly_digest.py", "--today", "2021-02-23", "-o", "out", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        week = {s.title for s in COLLECTION.filter(since="2021-02-17", until="2021-02-23")}
        assert len(week) == 3
        html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
        assert titles_in(page_text(html)) == week
        msg = read_message(tmp_path / "out" / "digest.eml")
        text, page = parts(msg)
        assert titles_in(text) == week
        assert titles_in(page_text(page)) == week
        assert "Impact and people" in str(msg["subject"])
        assert msg["to"].addresses[0].addr_spec == "journalists@example.org"

    def test_empty_week_writes_nothing(self, tmp_path: Path) -> None:
        """A week without stories says so, exits 0 and writes no files."""
        proc = run("weekly_digest.py", "--today", "2020-06-01", "-o", "out", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "nothing to send" in proc.stdout
        assert not (tmp_path / "out").exists()

    def test_topic_narrows_the_week(self, tmp_path: Path) -> None:
        """``--topic`` keeps only that topic's stories of the week."""
        proc = run("weekly_digest.py", "--today", "2021-02-23", "--topic", "COVID-19",
                   "-o", "out", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        text, _ = parts(read_message(tmp_path / "out" / "digest.eml"))
        want = COLLECTION.filter(since="2021-02-17", until="2021-02-23", topic="COVID-19")
        assert titles_in(text) == {s.title for s in want}

    def test_missing_source_is_one_line_error(self, tmp_path: Path) -> None:
        """A missing content file exits 1 with a one-line error naming it."""
        proc = run("weekly_digest.py", "--source", "nope.json", cwd=tmp_path)
        assert proc.returncode == 1
        assert proc.stderr.startswith("weekly_digest: error:")
        assert "nope.json" in proc.stderr
        assert "Traceback" not in proc.stderr


class TestPartnerExport:
    def test_json_and_csv_hold_only_the_partners_countries(self, tmp_path: Path) -> None:
        """Both files hold exactly the stories about the partner's countries, and load back."""
        proc = run("partner_export.py", "--partner", "asia", "--countries", "LK,MM,PH,TL",
                   "-o", "out", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        want = {s.id for s in COLLECTION if set(s.countries) & {"LK", "MM", "PH", "TL"}}
        back = storykit.load(tmp_path / "out" / "asia.json")
        assert set(back.ids) == want
        assert back.title == COLLECTION.title and back.contacts == COLLECTION.contacts
        raw = (tmp_path / "out" / "asia.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the byte order mark"
        with (tmp_path / "out" / "asia.csv").open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        assert {r["id"] for r in rows} == want
        assert storykit.load(tmp_path / "out" / "asia.csv").ids == back.ids

    def test_unknown_country_is_an_error(self, tmp_path: Path) -> None:
        """A code that is not ISO 3166-1 alpha-2 exits 1 naming it, and writes nothing."""
        proc = run("partner_export.py", "--partner", "x", "--countries", "XX", "-o", "out",
                   cwd=tmp_path)
        assert proc.returncode == 1
        assert "'XX'" in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "out").exists()

    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(countries=st.sets(st.sampled_from(["BR", "LK", "MD", "MG", "MM", "MX", "PH", "TL",
                                              "FR"]), min_size=1))
    def test_any_countries_select_exactly_their_stories(
            self, countries: set[str], tmp_path_factory: pytest.TempPathFactory) -> None:
        """For any set of countries, the JSON holds the stories about one of them, newest first."""
        out = tmp_path_factory.mktemp("partner")
        script = load_script("partner_export.py")
        code = script.main(["--partner", "p", "--countries", ",".join(sorted(countries)),
                            "-o", str(out)])
        assert code == 0
        back = storykit.load(out / "p.json")
        assert set(back.ids) == {s.id for s in COLLECTION if set(s.countries) & countries}
        dates = [s.published for s in back]
        assert dates == sorted(dates, reverse=True)


class TestPersonalised:
    def test_outbox_has_one_message_per_interested_subscriber(self, tmp_path: Path) -> None:
        """Each subscriber with matching stories gets one message with only those stories."""
        proc = run("personalised.py", "--since", "2021-02-01", "--until", "2021-02-28",
                   "-o", "outbox", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        from storykit.digest import load_subscribers, outbox_name

        month = COLLECTION.filter(since="2021-02-01", until="2021-02-28")
        subscribers = load_subscribers(DATA / "subscribers.csv")
        assert 5 <= len(subscribers) <= 10
        outbox = tmp_path / "outbox"
        expected_files = set()
        for sub in subscribers:
            topics = {t.casefold() for t in sub.topics}
            theirs = {s.title for s in month
                      if (not topics or {t.casefold() for t in s.topics} & topics)
                      and (not sub.countries or set(s.countries) & set(sub.countries))}
            path = outbox / outbox_name(sub.email)
            if not theirs:
                assert not path.exists(), f"{sub.email} has no stories but got a message"
                assert f"skipped {sub.email}" in proc.stdout
                continue
            expected_files.add(path.name)
            msg = read_message(path)
            assert [a.addr_spec for a in msg["to"].addresses] == [sub.email]
            text, page = parts(msg)
            assert titles_in(text) == theirs, sub.email
            assert titles_in(page_text(page)) == theirs, sub.email
            unsubscribe = str(msg["list-unsubscribe"])
            assert unsubscribe.startswith("<https://news.example.org/unsubscribe?u=")
            assert msg["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        assert {p.name for p in outbox.glob("*.eml")} == expected_files
        assert expected_files, "the example subscribers should get some messages"

    def test_bad_subscribers_file_lists_every_problem(self, tmp_path: Path) -> None:
        """A subscribers file with two bad rows exits 1 and names both."""
        bad = tmp_path / "subs.csv"
        bad.write_text("email,name,topics,countries,language\n"
                       "not-an-address,Ana,,,en\nok@example.org,Bo,,ZZ,en\n", encoding="utf-8")
        proc = run("personalised.py", "--subscribers", str(bad), "-o", "outbox", cwd=tmp_path)
        assert proc.returncode == 1
        assert "not-an-address" in proc.stderr and "'ZZ'" in proc.stderr
        assert not list(tmp_path.glob("outbox/*.eml"))
