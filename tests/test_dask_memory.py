"""The one-process personalised run in constant memory (the baseline storykit.dask is measured
against): repeated mailboxes are still found when the check keeps 8 bytes an address, and a
subscribers file that changes after its check is refused rather than mailed unchecked."""

from __future__ import annotations

from pathlib import Path

import pytest

import storykit
from storykit import ValidationError
from storykit.email import subscribers as subscribers_module
from storykit.email.personalised import PersonalisedRun, write_messages
from storykit.email.subscribers import iter_subscribers

SENDER = "Newsroom <news@example.org>"
EXAMPLE = Path("examples/impact-and-people/stories.json")


def write_rows(path: Path, addresses: list[str]) -> Path:
    path.write_text("email,name\n" + "".join(f"{a},Reader\n" for a in addresses),
                    encoding="utf-8")
    return path


def test_repeats_are_found_across_sorted_runs(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeats far apart and side by side, in any case, each named with its first line,
    when the keys are sorted in many small runs and merged."""
    monkeypatch.setattr(subscribers_module, "_SORT_RUN", 16)
    addresses = [f"reader{i}@example.org" for i in range(300)]
    addresses[250] = "Reader3@Example.org"  # line 252 repeats line 5
    addresses[41] = "reader40@example.org"  # line 43 repeats line 42
    path = write_rows(tmp_path / "subs.csv", addresses)
    with pytest.raises(ValidationError) as info:
        iter_subscribers(path)
    got = [(d.path, d.line, d.message) for d in info.value.errors]
    assert got == [
        ("subscribers[41].email", 43, "'reader40@example.org' is already on line 42"),
        ("subscribers[250].email", 252, "'Reader3@example.org' is already on line 5"),
    ]


def test_no_repeat_reads_every_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscribers_module, "_SORT_RUN", 7)
    addresses = [f"reader{i}@example.org" for i in range(100)]
    subs = iter_subscribers(write_rows(tmp_path / "subs.csv", addresses))
    assert [s.email for s in subs] == addresses


def test_a_file_changed_after_its_check_is_refused(tmp_path: Path) -> None:
    """The run's check found no repeat; a repeat added since is refused, nothing written."""
    path = write_rows(tmp_path / "subs.csv", ["ana@example.org", "bo@example.org"])
    subs = iter_subscribers(path)
    write_rows(path, ["ana@example.org", "bo@example.org", "Ana@example.org"])
    run = PersonalisedRun(storykit.load(EXAMPLE), subs, {"sender": SENDER},
                          keep_skipped=False)
    outbox = tmp_path / "outbox"
    with pytest.raises(ValidationError, match="changed since it was checked"):
        write_messages(run, outbox)
    assert not list(outbox.glob("*.eml"))


def test_a_checked_file_writes_one_message_a_subscriber(tmp_path: Path) -> None:
    addresses = [f"reader{i}@example.org" for i in range(40)]
    run = PersonalisedRun(storykit.load(EXAMPLE),
                          iter_subscribers(write_rows(tmp_path / "subs.csv", addresses)),
                          {"sender": SENDER}, keep_skipped=False)
    assert write_messages(run, tmp_path / "outbox") == run.sent == 40
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == sorted(
        f"{a}.eml" for a in addresses)
