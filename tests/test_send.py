"""Sending digests through a real SMTP server (aiosmtpd on 127.0.0.1, started by the tests)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from smtp_support import smtp_server

import storykit
from storykit.cli import main
from storykit.digest import PersonalisedRun, Subscriber, select, window, write_outbox
from storykit.email import SENT_RECORD, OutboxBusyError, SendError, send

STRICT = policy.default.clone(raise_on_defect=True)
SENDER = "ILO Newsroom <newsroom@ilo.org>"
UNSUB = "https://news.example.org/unsubscribe?u={token}"
REFUSED = "refused@example.org"
TEMP = "temp@example.org"


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 held (bound, never listening) while the block runs: connections to
    it are refused, and no other process can take it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        yield port


class Handler:
    """Accepts everything but REFUSED (550) and, while ``busy``, TEMP (451); keeps what it got.

    With ``hold`` set, the first DATA sets ``arrived`` and waits for ``release`` before it
    answers: a send stays in flight, with its lock held, for as long as a test needs.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.rcpt_asked: list[str] = []
        self.busy = True
        self.hold = False
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        self.rcpt_asked.append(address)
        if address == REFUSED:
            return "550 5.1.1 No such mailbox here"
        if address == TEMP and self.busy:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold and not self.arrived.is_set():
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    """An SMTP server on 127.0.0.1 and the port it holds, stopped after the test."""
    handler = Handler()
    with smtp_server(handler) as port:
        yield handler, port


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


def message_to(folder: Path, *addresses: str) -> Path:
    """One message to several recipients (a shared digest), written to ``folder/digest.eml``."""
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = ", ".join(addresses)
    msg["Subject"] = "The stories of the week"
    msg["Message-ID"] = "<digest-2021-w07@ilo.org>"
    msg.set_content("Three stories this week.\n")
    folder.mkdir(exist_ok=True)
    path = folder / "digest.eml"
    path.write_bytes(msg.as_bytes(policy=policy.SMTP))
    return path


def storykit_send(*args: str | Path) -> list[str]:
    """The command line of ``storykit send ARGS`` in a process of its own."""
    return [sys.executable, "-m", "storykit", "send", *(str(a) for a in args)]


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
        with refused_port() as port:
            code, _, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}",
                                  "--timeout", "5")
            assert code == 1
            assert f"127.0.0.1:{port}" in err
            with pytest.raises(SendError) as info:
                send(outbox.glob("*.eml"), "127.0.0.1", port, timeout=5)
        assert info.value.port == port

    @pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
    def test_any_line_end_arrives_intact(self, smtp: tuple[Handler, int], tmp_path: Path,
                                         eol: bytes) -> None:
        """A message file with LF (or CR) line ends, as editors write them, goes out with
        SMTP's CR LF: a line starting with "." arrives as written, and no line is added."""
        handler, port = smtp
        lines = [b"From: a@example.org", b"To: b@example.org", b"Subject: dots",
                 b"Message-ID: <dots@example.org>", b"", b"line one", b".hidden", b"end"]
        message = tmp_path / "dots.eml"
        message.write_bytes(eol.join(lines) + eol)
        assert send([message], "127.0.0.1", port).ok
        [(_, _, got)] = handler.received
        assert got == b"\r\n".join(lines) + b"\r\n"
        assert parse(got).get_content().splitlines() == ["line one", ".hidden", "end"]

    def test_a_message_without_an_id_is_known_by_its_file(self, smtp: tuple[Handler, int],
                                                          tmp_path: Path) -> None:
        """A message without a Message-ID is recorded by the hash of its file as written
        (LF line ends and all), as earlier versions recorded it: a rerun skips it."""
        handler, port = smtp
        message = tmp_path / "no-id.eml"
        message.write_bytes(b"From: a@example.org\nTo: b@example.org\nSubject: hi\n\nbody\n")
        assert send([message], "127.0.0.1", port).ok
        record = (tmp_path / ".sent.jsonl").read_text()
        assert "sha256:" + hashlib.sha256(message.read_bytes()).hexdigest() in record
        again = send([message], "127.0.0.1", port)
        assert [r.status for r in again.results] == ["skipped"]
        assert len(handler.received) == 1

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
        ["--smtp", "localhost:"],
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


class TestOverlappingRuns:
    def test_a_second_run_on_a_busy_outbox_sends_nothing(self, smtp: tuple[Handler, int],
                                                          example: storykit.Collection,
                                                          tmp_path: Path) -> None:
        """A send begun while another runs on the outbox exits 1 at once; all go once."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org",
                                               "c@example.org"])
        handler.hold = True
        first = subprocess.Popen(storykit_send(outbox, "--smtp", f"127.0.0.1:{port}", "-q"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert handler.arrived.wait(120), "the first send never reached DATA"
            second = subprocess.run(storykit_send(outbox, "--smtp", f"127.0.0.1:{port}", "-q"),
                                    capture_output=True, text=True, timeout=120, check=False)
        finally:
            handler.release.set()
            out, err = first.communicate(timeout=120)
        assert second.returncode == 1
        assert second.stderr.count("\n") == 1
        assert second.stderr.startswith("storykit: error: another storykit send is running")
        assert str(outbox) in second.stderr
        assert second.stdout == ""
        assert first.returncode == 0, err
        assert out.strip() == "3 sent, 0 failed, 0 skipped (already sent)"
        assert sorted(r[1][0] for r in handler.received) == [
            "a@example.org", "b@example.org", "c@example.org"]
        assert len((outbox / SENT_RECORD).read_text().splitlines()) == 3

    def test_the_lock_goes_with_a_crashed_run(self, smtp: tuple[Handler, int],
                                              example: storykit.Collection,
                                              tmp_path: Path) -> None:
        """A send killed mid-run leaves no lock behind: the next run sends what is left."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org"])
        handler.hold = True
        first = subprocess.Popen(storykit_send(outbox, "--smtp", f"127.0.0.1:{port}"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert handler.arrived.wait(120), "the first send never reached DATA"
            os.kill(first.pid, signal.SIGKILL)
            first.wait(120)
        finally:
            handler.release.set()
        code, out, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        assert code == 0, err
        assert out.strip().endswith("0 failed, 0 skipped (already sent)")
        assert {r[1][0] for r in handler.received} == {"a@example.org", "b@example.org"}

    def test_sigterm_hangs_up_at_once(self, smtp: tuple[Handler, int],
                                      example: storykit.Collection, tmp_path: Path) -> None:
        """SIGTERM while the server still holds a message: the send hangs up at once (exit
        143), not after a QUIT that waits for the server; the lock goes with it, and the next
        run sends every message that was not recorded as sent."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org"])
        handler.hold = True
        first = subprocess.Popen(storykit_send(outbox, "--smtp", f"127.0.0.1:{port}"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        answer = threading.Timer(20, handler.release.set)  # (the server answers at last)
        try:
            assert handler.arrived.wait(120), "the first send never reached DATA"
            answer.start()
            first.send_signal(signal.SIGTERM)
            _, err = first.communicate(timeout=120)
            held = not handler.release.is_set()
        finally:
            answer.cancel()
            handler.release.set()
        assert (first.returncode, err) == (143, "storykit: error: terminated\n")
        assert held, "the send waited for the server before it ended"
        code, out, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        assert code == 0, err
        assert out.strip().endswith("0 failed, 0 skipped (already sent)")

    def test_a_dry_run_beside_a_send(self, smtp: tuple[Handler, int],
                                     example: storykit.Collection, tmp_path: Path) -> None:
        """A dry run takes no lock: it works while a send runs, and shows what is left."""
        _, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org"])
        seen: list[str] = []

        def dry_run_now(result: Any) -> None:
            if not seen:
                dry = send(sorted(outbox.glob("*.eml")), "127.0.0.1", port, dry_run=True)
                seen.extend(f"{r.status} {r.recipients[0]}" for r in dry.results)

        report = send(sorted(outbox.glob("*.eml")), "127.0.0.1", port, on_result=dry_run_now)
        assert report.ok
        assert seen == ["skipped a@example.org", "dry-run b@example.org"]

    def test_the_library_refuses_a_busy_outbox(self, smtp: tuple[Handler, int],
                                               example: storykit.Collection,
                                               tmp_path: Path) -> None:
        """send() raises OutboxBusyError, naming the folder, while another send holds its lock."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org"])
        errors: list[OutboxBusyError] = []

        def send_again(result: Any) -> None:
            with pytest.raises(OutboxBusyError) as info:
                send(outbox.glob("*.eml"), "127.0.0.1", port)
            errors.append(info.value)

        report = send(outbox.glob("*.eml"), "127.0.0.1", port, on_result=send_again)
        assert report.count("sent") == 2
        assert len(errors) == 2 and errors[0].folder == outbox
        assert len(handler.received) == 2
        assert send(outbox.glob("*.eml"), "127.0.0.1", port).count("skipped") == 2


class TestRefusedRecipients:
    def test_a_temporary_refusal_is_retried_for_that_recipient_only(
            self, smtp: tuple[Handler, int], tmp_path: Path) -> None:
        """A recipient refused with 451 gets the message on a rerun; the others get one copy."""
        handler, port = smtp
        eml = message_to(tmp_path / "outbox", "a@example.org", TEMP)
        code, out, err = invoke("send", eml, "--smtp", f"127.0.0.1:{port}")
        assert code == 1
        assert TEMP in err and "451" in err
        assert "1 recipient refused (temporarily: the next run retries it)" in out
        assert [r[1] for r in handler.received] == [["a@example.org"]]
        # Still refused: the rerun asks for TEMP alone, fails again, and says so.
        handler.rcpt_asked.clear()
        code, out, err = invoke("send", eml, "--smtp", f"127.0.0.1:{port}")
        assert code == 1
        assert handler.rcpt_asked == [TEMP]
        assert out.strip() == ("0 sent, 1 failed, 1 recipient refused (temporarily: the next "
                               "run retries it), 0 skipped (already sent)")
        assert len(handler.received) == 1
        # Accepted now: TEMP gets the same message, a@ no second copy.
        handler.busy = False
        code, out, err = invoke("send", eml, "--smtp", f"127.0.0.1:{port}")
        assert code == 0, err
        assert f"sent: {eml} to {TEMP} (a@example.org had it already)" in out
        assert [r[1] for r in handler.received] == [["a@example.org"], [TEMP]]
        first, second = (parse(r[2]) for r in handler.received)
        assert first["Message-ID"] == second["Message-ID"]
        assert first.get_content() == second.get_content()
        # Everyone has it: nothing more to do.
        code, out, _ = invoke("send", eml, "--smtp", f"127.0.0.1:{port}")
        assert code == 0
        assert out.strip().endswith("0 sent, 0 failed, 1 skipped (already sent)")
        assert len(handler.received) == 2

    def test_a_permanent_refusal_is_reported_not_retried(self, smtp: tuple[Handler, int],
                                                         tmp_path: Path) -> None:
        """A recipient refused with 550 is not asked again: each rerun reports it and exits 1."""
        handler, port = smtp
        eml = message_to(tmp_path / "outbox", "a@example.org", REFUSED)
        code, out, err = invoke("send", eml, "--smtp", f"127.0.0.1:{port}")
        assert code == 1
        assert "550" in err
        assert "1 recipient refused," in out
        handler.rcpt_asked.clear()
        code, out, err = invoke("send", eml, "--smtp", f"127.0.0.1:{port}")
        assert code == 1
        assert handler.rcpt_asked == []
        assert f"error: failed: {eml}; refused earlier, not retried: {REFUSED} (550" in err
        assert out.strip() == ("0 sent, 1 failed, 1 recipient refused earlier (not retried), "
                               "0 skipped (already sent)")
        assert len(handler.received) == 1
        # --resend keeps its meaning: the whole message, to every recipient, once more.
        code, out, _ = invoke("send", eml, "--smtp", f"127.0.0.1:{port}", "--resend")
        assert code == 1
        assert handler.rcpt_asked == ["a@example.org", REFUSED]
        assert [r[1] for r in handler.received] == [["a@example.org"], ["a@example.org"]]

    def test_refusals_in_the_report(self, smtp: tuple[Handler, int], tmp_path: Path) -> None:
        """The library reports this run's refusals and the earlier permanent ones apart."""
        handler, port = smtp
        eml = message_to(tmp_path / "outbox", "a@example.org", TEMP, REFUSED)
        result = send([eml], "127.0.0.1", port).results[0]
        assert result.status == "sent" and not result.ok
        assert set(result.refused) == {TEMP, REFUSED}
        assert result.temporary == (TEMP,)
        handler.busy = False
        result = send([eml], "127.0.0.1", port).results[0]
        assert (result.status, result.recipients, result.refused) == ("sent", (TEMP,), {})
        assert list(result.earlier) == [REFUSED] and result.earlier[REFUSED].startswith("550")
        assert not result.ok



class TestLikeAMailClient:
    """storykit send dates, paces, tests and reports as a mail client would."""

    def test_the_date_is_the_sending_time(self, smtp: tuple[Handler, int],
                                          example: storykit.Collection, tmp_path: Path) -> None:
        """A message goes out dated when it is sent; the file keeps its own Date."""
        from datetime import datetime
        from email.utils import parsedate_to_datetime

        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org"])
        (path,) = outbox.glob("*.eml")
        before_file = path.read_bytes()
        before = datetime.now().astimezone().replace(microsecond=0)
        code, _, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        after = datetime.now().astimezone()
        assert code == 0, err
        (got,) = handler.received
        sent = parse(got[2])
        assert before <= parsedate_to_datetime(str(sent["Date"])) <= after
        assert path.read_bytes() == before_file
        assert parse(before_file)["Date"] != sent["Date"]
        assert sent["Message-ID"] == parse(before_file)["Message-ID"]

    def test_keep_date_sends_the_files_date(self, smtp: tuple[Handler, int],
                                            example: storykit.Collection,
                                            tmp_path: Path) -> None:
        """--keep-date sends the file as it is."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org"])
        (path,) = outbox.glob("*.eml")
        code, _, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}", "--keep-date")
        assert code == 0, err
        assert handler.received[0][2].replace(b"\r\n", b"\n") == path.read_bytes().replace(
            b"\r\n", b"\n")

    def test_test_to_sends_one_copy_and_records_nothing(self, smtp: tuple[Handler, int],
                                                        example: storykit.Collection,
                                                        tmp_path: Path) -> None:
        """--test-to sends the first message to that address only; the real run sends all."""
        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org"])
        code, out, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}",
                                "--test-to", "Me <me@example.org>")
        assert code == 0, err
        assert [r[1] for r in handler.received] == [["me@example.org"]]
        assert "a test copy, not recorded" in out
        assert not (outbox / SENT_RECORD).exists()
        code, out, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        assert code == 0, err
        assert sorted(r[1][0] for r in handler.received[1:]) == ["a@example.org",
                                                                  "b@example.org"]

    def test_the_lock_is_removed_at_the_end(self, smtp: tuple[Handler, int],
                                            example: storykit.Collection,
                                            tmp_path: Path) -> None:
        """No .send.lock is left in the outbox after a send, nor after a refused message."""
        from storykit.email import SEND_LOCK

        _, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", REFUSED])
        code, _, _ = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        assert code == 1
        assert not (outbox / SEND_LOCK).exists()
        assert (outbox / SENT_RECORD).exists()

    @pytest.mark.parametrize(("value", "security", "expected"), [
        ("localhost", "plain", ("localhost", 25)),
        ("smtp.example.org", "starttls", ("smtp.example.org", 587)),
        ("smtp.example.org", "ssl", ("smtp.example.org", 465)),
        ("127.0.0.1:2525", "plain", ("127.0.0.1", 2525)),
        ("[::1]", "plain", ("::1", 25)),
        ("[::1]:2525", "ssl", ("::1", 2525)),
        ("::1", "starttls", ("::1", 587)),
    ])
    def test_a_host_alone_means_the_usual_port(self, value: str, security: str,
                                               expected: tuple[str, int]) -> None:
        """--smtp HOST: port 25, 587 with --starttls, 465 with --ssl."""
        from storykit.cli.mail import _host_port

        assert _host_port(value, security) == expected

    def test_a_host_alone_reaches_the_server(self, smtp: tuple[Handler, int],
                                             example: storykit.Collection, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
        """--smtp 127.0.0.1 connects to port 25 (pointed at the test server here)."""
        handler, port = smtp
        monkeypatch.setitem(__import__("storykit.cli.mail").cli.mail.DEFAULT_PORTS,
                            "plain", port)
        outbox = outbox_of(tmp_path, example, ["a@example.org"])
        code, _, err = invoke("send", outbox, "--smtp", "127.0.0.1")
        assert code == 0, err
        assert len(handler.received) == 1

    def test_rate_spaces_the_messages(self) -> None:
        """--rate 2/s waits half a second between messages (on the throttle's clock)."""
        from storykit.cli.mail import _rate
        from storykit.email.smtp import _Throttle

        now = [100.0]
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            now[0] += seconds

        throttle = _Throttle(_rate("2/s"), clock=lambda: now[0], sleep=sleep)
        for _ in range(4):
            throttle.wait()
        assert slept == [0.5, 0.5, 0.5]
        assert _rate("600/m") == _rate("10") == 10.0
        for bad in ("fast", "0/s", "-1/s", "5/day", "nan/s"):
            with pytest.raises(Exception, match="is not a rate"):
                _rate(bad)

    def test_progress_only_on_a_terminal(self, smtp: tuple[Handler, int],
                                         example: storykit.Collection, tmp_path: Path) -> None:
        """The "[n/N] sent" line is for terminals: none in captured stderr; its form."""
        from storykit.cli.mail import _Progress

        _, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org"])
        code, _, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        assert code == 0 and err == ""
        progress = _Progress(800, enabled=False)
        for _ in range(200):
            progress.update("sent", Path("ana@example.org.eml"))
        assert progress.line("sent", Path("ana@example.org.eml"), 20.0) == (
            "[200/800] sent ana@example.org.eml (10.0 messages/s, ETA 1:00)")

    def test_ctrl_c_says_what_was_sent_and_how_to_resume(self, smtp: tuple[Handler, int],
                                                         example: storykit.Collection,
                                                         tmp_path: Path) -> None:
        """Ctrl-C: "sent N, M left; run the same command again to resume", exit 130, no
        lock left; the same command then sends the rest."""
        from storykit.email import SEND_LOCK

        handler, port = smtp
        outbox = outbox_of(tmp_path, example, ["a@example.org", "b@example.org",
                                               "c@example.org"])
        handler.hold = True
        first = subprocess.Popen(storykit_send(outbox, "--smtp", f"127.0.0.1:{port}"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            assert handler.arrived.wait(120), "the send never reached DATA"
            first.send_signal(signal.SIGINT)
            _, err = first.communicate(timeout=120)
        finally:
            handler.release.set()
        assert first.returncode == 130
        assert err == ("storykit: error: interrupted: sent 0, 3 left; run the same command "
                       "again to resume\n")
        assert not (outbox / SEND_LOCK).exists()
        code, out, err = invoke("send", outbox, "--smtp", f"127.0.0.1:{port}")
        assert code == 0, err
        assert out.strip().endswith("0 failed, 0 skipped (already sent)")
