"""Sending digests through a real SMTP server (aiosmtpd on 127.0.0.1, started by the tests)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

import storykit
from storykit.cli import main
from storykit.digest import PersonalisedRun, Subscriber, select, window, write_outbox
from storykit.mail import SENT_RECORD, SendError, send

STRICT = policy.default.clone(raise_on_defect=True)
SENDER = "ILO Newsroom <newsroom@ilo.org>"
UNSUB = "https://news.example.org/unsubscribe?u={token}"
REFUSED = "refused@example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Handler:
    """Accepts everything but REFUSED (550), and keeps what it received."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    """An SMTP server on 127.0.0.1 and a free port, stopped after the test."""
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def parse(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=STRICT).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


def outbox_of(tmp_path: Path, example: storykit.Collection, addresses: list[str]) -> Path:
    col = select(example, window(month="2021-02"))
    run = PersonalisedRun(col, [Subscriber(a, f"Reader {i}") for i, a in enumerate(addresses)],
                          {"sender": SENDER, "unsubscribe": UNSUB})
    outbox = tmp_path / "outbox"
    write_outbox(run, outbox)
    return outbox


class TestSend:
    @pytest.mark.slow
    def test_a_thousand_personalised_messages(self, smtp: tuple[Handler, int],
                                              example: storykit.Collection,
                                              tmp_path: Path) -> None:
        """A personalised run of 1,000 subscribers is sent and every message accounted for."""
        handler, port = smtp
        rnd = random.Random(4)
        topics = sorted({t for s in example for t in s.topics})
        subs = [Subscriber(f"reader{i}@example.org", f"Réader {i}",
                           tuple(rnd.sample(topics, rnd.randint(0, 2)))) for i in range(1000)]
        col = select(example, window(month="2021-02"))
        run = PersonalisedRun(col, subs, {"sender": SENDER, "unsubscribe": UNSUB})
        outbox = tmp_path / "outbox"
        paths = write_outbox(run, outbox)
        assert len(paths) + len(run.skipped) == 1000
        assert len(paths) > 500
        code, out, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}", "--quiet")
        assert code == 0, err
        assert out.strip().endswith(f"{len(paths)} sent, 0 failed, 0 skipped (already sent)")
        assert len(handler.received) == len(paths)
        sent_ids = {}
        for mail_from, rcpts, content in handler.received:
            msg = parse(content)
            assert mail_from == "newsroom@ilo.org"
            assert rcpts == [msg["To"].addresses[0].addr_spec]
            sent_ids[msg["Message-ID"]] = rcpts[0]
        written = {parse(p.read_bytes())["Message-ID"]: p for p in paths}
        assert set(sent_ids) == set(written)
        record = (outbox / SENT_RECORD).read_text().splitlines()
        assert len(record) == len(paths)

    def test_refused_recipient_does_not_stop_the_rest(self, smtp: tuple[Handler, int],
                                                      example: storykit.Collection,
                                                      tmp_path: Path) -> None:
        """A recipient refused with 550 fails alone; the others are sent; exit code 1."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", REFUSED, "c@example.org"])
        code, out, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        assert code == 1
        assert REFUSED in err and "550" in err
        assert sorted(r[1][0] for r in handler.received) == ["a@example.org", "c@example.org"]
        assert "2 sent, 1 failed" in out
        # A rerun retries only the failed message.
        handler.received.clear()
        code, out, _ = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        assert code == 1
        assert "0 sent, 1 failed" in out and "2 skipped" in out
        assert handler.received == []

    def test_rerun_skips_what_was_sent(self, smtp: tuple[Handler, int],
                                       example: storykit.Collection, tmp_path: Path) -> None:
        """Sending the outbox again skips every message, unless --resend."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org"])
        files = sorted(outbox.glob("*.eml"))
        assert invoke("send", *files, "--smtp", f"127.0.0.1:{port}")[0] == 0
        assert len(handler.received) == 2
        code, out, _ = invoke("send", *files, "--smtp", f"127.0.0.1:{port}")
        assert code == 0
        assert "0 sent, 0 failed, 2 skipped (already sent)" in out
        assert len(handler.received) == 2
        code, out, _ = invoke("send", *files, "--smtp", f"127.0.0.1:{port}", "--resend")
        assert code == 0
        assert len(handler.received) == 4

    def test_dry_run_sends_nothing(self, smtp: tuple[Handler, int],
                                   example: storykit.Collection, tmp_path: Path) -> None:
        """--dry-run lists each message and its recipients, and sends and records nothing."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org"])
        code, out, _ = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}", "--dry-run")
        assert code == 0
        assert out.count("dry-run:") == 2 and "to a@example.org" in out
        assert handler.received == []
        assert not (outbox / SENT_RECORD).exists()

    def test_unreachable_server_names_host_and_port(self, example: storykit.Collection,
                                                    tmp_path: Path) -> None:
        """A server that cannot be reached is an error naming host:port, exit code 1."""
        outbox = outbox_of(tmp_path, example, ["a@example.org"])
        port = free_port()
        code, _, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}", "--timeout", "5")
        assert code == 1
        assert f"127.0.0.1:{port}" in err
        with pytest.raises(SendError) as info:
            send(outbox.glob("*.eml"), "127.0.0.1", port, timeout=5)
        assert info.value.port == port

    def test_not_a_message(self, smtp: tuple[Handler, int], tmp_path: Path) -> None:
        """A file that is not a message fails alone, with the reason."""
        handler, port = smtp
        bad = tmp_path / "empty.eml"
        bad.write_bytes(b"")
        report = send([bad], "127.0.0.1", port)
        assert not report.ok
        assert "empty" in report.results[0].detail
        assert handler.received == []

    @pytest.mark.parametrize("args", [
        ["--smtp", "localhost"],
        ["--smtp", "localhost:99999"],
        ["--smtp", "localhost:25", "--starttls", "--ssl"],
        ["--smtp", "localhost:25", "--user", "u"],
        ["--smtp", "localhost:25", "--user", "u", "--password-env", "STORYKIT_TEST_UNSET_VAR"],
    ])
    def test_usage_errors(self, args: list[str], tmp_path: Path) -> None:
        """Bad --smtp values and option combinations are usage errors (exit 2)."""
        eml = tmp_path / "m.eml"
        eml.write_bytes(b"From: a@example.org\r\nTo: b@example.org\r\n\r\nhi\r\n")
        assert invoke("send", eml, *args)[0] == 2
