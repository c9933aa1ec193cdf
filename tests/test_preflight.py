"""Preflight (storykit.email.lint): the checks a careful bulk sender runs before sending."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given

import storykit
from storykit.email import GMAIL_CLIP_BYTES, Finding, lint
from storykit.testing import collections

SENDER = "ILO Newsroom <newsroom@ilo.org>"
UNSUB = "https://news.example.org/unsubscribe?u={token}"


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def message(html: str | None = "<p>Hello</p>", text: str | None = "Hello",
            subject: str = "The stories of the week", unsubscribe: bool = True) -> bytes:
    msg = EmailMessage()
    msg["From"] = "news@example.org"
    msg["To"] = "ana@example.org"
    msg["Subject"] = subject
    if unsubscribe:
        msg["List-Unsubscribe"] = "<https://news.example.org/u?t=1>"
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    elif html is not None:
        msg.set_content(html, subtype="html")
    return msg.as_bytes()


class TestLint:
    def test_the_demo_digest_is_clean(self, example: storykit.Collection) -> None:
        """The example digest with recipients and an unsubscribe URL passes every check."""
        col = example.filter(since="2021-02-15", until="2021-02-23")
        data = storykit.dumps(col, "email", sender=SENDER, unsubscribe=UNSUB,
                              to="journalists@example.org")
        assert lint(data) == []

    def test_a_digest_to_its_sender_is_flagged(self, example: storykit.Collection) -> None:
        """Without ``to`` a digest is addressed to its sender: flagged as to-is-sender."""
        data = storykit.dumps(example, "email", sender=SENDER, unsubscribe=UNSUB)
        assert codes(lint(data)) == ["to-is-sender"]

    @pytest.mark.parametrize(("subject", "bad"), [
        ("Hi", True), ("Ten chars!", False), ("x" * 78, False), ("x" * 79, True),
    ])
    def test_subject_length(self, subject: str, bad: bool) -> None:
        """Subjects outside 10–78 characters are flagged."""
        assert ("subject-length" in codes(lint(message(subject=subject)))) is bad

    def test_html_over_gmail_clip(self, example: storykit.Collection) -> None:
        """An HTML part over 102 KB is flagged with its size."""
        story = example[0]
        big = example.replace([storykit.Story(id=f"s{i}", title=story.title,
                                              published=story.published,
                                              summary=story.summary * 4) for i in range(120)])
        findings = lint(storykit.dumps(big, "email", unsubscribe=UNSUB, to="a@example.org"))
        assert codes(findings) == ["html-size"]
        assert f"{GMAIL_CLIP_BYTES:,}" in findings[0].message

    def test_relative_urls_images_without_alt_and_bare_link_text(self) -> None:
        """Relative URLs, images without alt and "read more"/"click here" links are flagged."""
        html = ('<a href="/story">Read more</a> <a href="https://x.example/">click here!</a> '
                '<img src="https://x.example/a.png"> <img src="b.png" alt="B"> '
                '<a href="https://x.example/s">The full story of the bees</a>')
        found = codes(lint(message(html=html)))
        assert found.count("relative-url") == 2
        assert found.count("image-alt") == 1
        assert found.count("link-text") == 2

    def test_missing_or_empty_text_part(self) -> None:
        """An HTML-only message, or one whose text part is blank, is flagged."""
        assert "no-text-part" in codes(lint(message(text=None)))
        assert "empty-text-part" in codes(lint(message(text="  \n")))

    def test_unsubscribe_on_bulk_only(self) -> None:
        """A bulk message needs List-Unsubscribe; a one-off message does not."""
        data = message(unsubscribe=False)
        assert codes(lint(data)) == ["no-unsubscribe"]
        assert lint(data, bulk=False) == []

    def test_long_lines(self) -> None:
        """A line over 998 octets is flagged."""
        data = message().replace(b"\nHello", b"\n" + b"x" * 1200, 1)
        assert "long-line" in codes(lint(data))

    def test_findings_read_as_sentences(self) -> None:
        """A finding prints its sentence and code."""
        (f,) = lint(message(subject="Hi"))
        assert str(f).startswith("the subject is 2 characters long")
        assert str(f).endswith("[subject-length]")

    @given(col=collections(min_size=1, max_size=4))
    def test_exporter_output_never_has_markup_problems(self, col: storykit.Collection) -> None:
        """Messages from the email exporter have no relative URLs or alt-less images and
        keep their text part, whatever the collection (link text is the data's own)."""
        found = set(codes(lint(storykit.dumps(col, "email", unsubscribe=UNSUB))))
        assert not found & {"relative-url", "image-alt", "no-text-part", "empty-text-part",
                            "long-line", "no-unsubscribe"}
