"""Personalised runs: one message per subscriber with only their stories, written to an outbox.

:class:`PersonalisedRun` yields the messages, skipping (and counting) subscribers with no
stories; :func:`write_outbox` writes them as ``.eml`` files as they are made.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from storykit.email.subscribers import Subscriber, SubscribersFile
from storykit.errors import ErrorDetail, ValidationError

if TYPE_CHECKING:
    from storykit.collection import Collection
    from storykit.email.options import EmailOptions
    from storykit.email.render import DigestRenderer
    from storykit.plugins import Registry

__all__ = [
    "Message",
    "PersonalisedRun",
    "iter_outbox",
    "outbox_name",
    "outbox_writes",
    "write_messages",
    "write_outbox",
]


@attrs.frozen
class Message:
    """One personalised message: who it is for, how many stories, and its bytes."""

    subscriber: Subscriber
    stories: int
    data: bytes


class PersonalisedRun:
    """One message per subscriber with only their stories; iterate to get them.

    Everything that does not depend on the subscriber is prepared once per locale (templates
    rendered, CSS inlined, headers folded: see :class:`~storykit.email.DigestRenderer`);
    each message then only picks its story blocks and folds its own ``To``; its ``Date`` and
    inbox preview come from its own stories (the newest of them; their first titles, unless
    a description or ``preheader`` option gives every message one). Subscribers whose
    topics and countries match no story are skipped and listed in :attr:`skipped`.

    Each iteration is a fresh run: :attr:`sent` and :attr:`skipped` count that run only (a
    second ``for`` or ``list()`` does not add to the first's). Two subscribers with one address
    in different case (``ana@example.org``, ``Ana@Example.org``) are one mailbox, as
    :func:`parse_subscribers` and :func:`outbox_name` hold: a :class:`~storykit.ValidationError`
    names the second, rather than mail one reader twice.

    Given :func:`~storykit.email.subscribers.iter_subscribers` (a file checked whole, then read
    a row at a time) and ``keep_skipped=False`` (count the skipped, do not list them), a run
    holds one subscriber at a time: its memory does not grow with the subscribers.
    """

    def __init__(self, collection: Collection, subscribers: Iterable[Subscriber],
                 options: Mapping[str, Any] | None = None,
                 registry: Registry | None = None, *, keep_skipped: bool = True) -> None:
        from storykit.email.options import EmailOptions
        from storykit.exporter import parse_options
        from storykit.plugins import get_registry

        self.collection = collection
        self.subscribers: Iterable[Subscriber]
        if isinstance(subscribers, SubscribersFile):
            self.subscribers = subscribers  # checked already, and read a row at a time
        else:
            self.subscribers = list(subscribers)
            _refuse_repeated(self.subscribers)
        email = (registry or get_registry()).get("email")
        self.options: EmailOptions = parse_options(email, dict(options or {}), EmailOptions)
        self.registry = registry
        self.keep_skipped = keep_skipped
        #: The subscribers skipped by the current run (empty with ``keep_skipped=False``).
        self.skipped: list[Subscriber] = []
        #: How many subscribers the current run skipped.
        self.skipped_count = 0
        self.sent = 0
        self._renderers: dict[str, DigestRenderer] = {}
        self._keys = [({t.casefold() for t in s.topics}, set(s.countries))
                      for s in collection.stories]
        self._picks: dict[tuple[frozenset[str], frozenset[str]], list[int]] = {}
        # Prepare the default locale now, so option errors surface before the first message.
        self.renderer(None)

    def renderer(self, language: str | None) -> DigestRenderer:
        """The prepared renderer for ``language`` (made once per language)."""
        from storykit.email.render import DigestRenderer

        locale = language or self.options.locale or self.collection.language
        got = self._renderers.get(locale)
        if got is None:
            got = DigestRenderer(self.collection, self.options, self.registry, locale=locale)
            self._renderers[locale] = got
        return got

    def stories_for(self, subscriber: Subscriber) -> list[int]:
        """Indices of the stories that match the subscriber's topics and countries."""
        key = (frozenset(t.casefold() for t in subscriber.topics),
               frozenset(subscriber.countries))
        got = self._picks.get(key)
        if got is None:
            topics, countries = key
            got = [i for i, (t, c) in enumerate(self._keys)
                   if (not topics or t & topics) and (not countries or c & countries)]
            self._picks[key] = got
        return got

    def __iter__(self) -> Iterator[Message]:
        # Reset here, when the run is started, not when its first message is asked for.
        self.skipped = []
        self.skipped_count = 0
        self.sent = 0
        return self._messages()

    def _messages(self) -> Iterator[Message]:
        from email.headerregistry import Address

        from storykit.email.headers import header_text

        for sub in self.subscribers:
            picked = self.stories_for(sub)
            if not picked:
                self.skipped_count += 1
                if self.keep_skipped:
                    self.skipped.append(sub)
                continue
            local, _, domain = sub.email.rpartition("@")
            to: list[Address] = [Address(display_name=header_text(sub.name or ""),
                                         username=local, domain=domain)]
            data = self.renderer(sub.language).message(to, stories=picked, name=sub.greeting)
            self.sent += 1
            yield Message(sub, len(picked), data)


def _refuse_repeated(subscribers: list[Subscriber]) -> None:
    """A ValidationError naming each subscriber whose address (in any case) came before."""
    seen: dict[str, int] = {}
    errors: list[ErrorDetail] = []
    for i, sub in enumerate(subscribers):
        key = sub.email.lower()
        first = seen.setdefault(key, i)
        if first != i:
            errors.append(ErrorDetail(
                f"subscribers[{i}].email", f"{sub.email!r} is the address of subscribers[{first}] "
                f"({subscribers[first].email!r}); one mailbox gets one message", sub.email))
    if errors:
        raise ValidationError(errors)


_UNSAFE_IN_NAME = re.compile(r"[^a-z0-9._@+-]")
#: Longest readable part of an outbox file name, in characters (ASCII): with the hash, ``.eml``
#: and the temporary name's dot and ``.tmp``, a name stays well under 255 bytes.
_MAX_NAME = 180


def outbox_name(address: str) -> str:
    """The outbox file name for an address: ``ana@example.org.eml``.

    The name is the address in lower case when that is a plain, short file name. Otherwise
    (characters such as ``/``, ``!`` or ``#``, a leading dot, or an address longer than 180
    characters) the unsafe characters become ``_``, the name is shortened, and ``~`` and 12 hex
    digits of the address's SHA-256 are added, so that two subscribers never share a file:
    ``a/b@example.org`` gives ``a_b@example.org~bb02eab6974b.eml``, a name that
    ``a_b@example.org`` (``a_b@example.org.eml``) cannot give. Addresses differing only in
    case (one mailbox, to :func:`parse_subscribers`) give one name.
    """
    lowered = address.lower()
    safe = _UNSAFE_IN_NAME.sub("_", lowered)
    if safe == lowered and len(safe) <= _MAX_NAME and not safe.startswith("."):
        return safe + ".eml"
    import hashlib

    if safe.startswith("."):
        safe = "_" + safe[1:]  # not a hidden file
    digest = hashlib.sha256(lowered.encode("utf-8")).hexdigest()[:12]
    return f"{safe[:_MAX_NAME]}~{digest}.eml"


def write_outbox(messages: Iterable[Message], outbox: str | Path, *,
                 durable: bool = False) -> list[Path]:
    """Write each message to ``outbox/<address>.eml`` atomically; return the paths.

    Each file is put in place whole (made without a name and linked under its name where the
    system can, or written to a temporary name beside it and renamed), so a reader (or
    ``storykit send``) never sees half a message. With ``durable=True`` each file goes
    through :class:`storykit.files.atomic_writer`, which also fsyncs it: safe across a power cut
    but about 100 files a second on an ordinary disk. The default flushes the whole outbox to
    disk once at the end (``os.sync()``), which is as safe once the run has finished.

    Two messages for one address (in any case: one mailbox, one file) are a ``ValueError``
    raised before the second is written, rather than one overwriting the other.
    :func:`iter_outbox` does the same, yielding each path as it is written.
    """
    return list(iter_outbox(messages, outbox, durable=durable))


def iter_outbox(messages: Iterable[Message], outbox: str | Path, *,
                durable: bool = False) -> Iterator[Path]:
    """:func:`write_outbox` a message at a time: each path is yielded once its file is in place.

    Memory does not grow with the messages beyond a 64-bit hash of each file name (none for
    a :class:`PersonalisedRun` over :func:`~storykit.email.subscribers.iter_subscribers`,
    whose mailboxes were all checked first).
    """
    folder = Path(outbox)
    for _, name, _ in outbox_writes(messages, folder, durable=durable):
        yield folder / name


def write_messages(messages: Iterable[Message], outbox: str | Path, *,
                   durable: bool = False) -> int:
    """:func:`write_outbox` that returns how many messages it wrote, not their paths."""
    return sum(wrote for _, _, wrote in outbox_writes(messages, Path(outbox), durable=durable))


def outbox_writes(messages: Iterable[Message], folder: str | Path, *, durable: bool = False,
                  keep: bool = False, unique: bool | None = None, flush: bool = True,
                  ) -> Iterator[tuple[Message, str, bool]]:
    """Write each message in ``folder``; yield it, its file's name and whether it was written
    now, once its file is in place. The one writer of an outbox: :func:`write_outbox`, the
    CLI and each block of :func:`storykit.dask.digests` go through it.

    ``keep=True`` leaves a message whose file is there already (a rerun after a crash writes
    only what is missing). ``unique=True`` says the caller has checked that no two messages
    share a mailbox (by default: a :class:`PersonalisedRun` over a checked subscribers file);
    otherwise a 64-bit hash of each name is kept to refuse a second message for one mailbox.
    Unless ``durable``, the outbox is flushed to disk once at the end (``os.sync()``), or
    not at all with ``flush=False`` (the caller flushes once when all its parts are written).
    """
    import hashlib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    where = str(folder)
    # File names as plain strings: a Path per file would intern its name for good.
    written: set[int] = set()
    # A run over a subscribers file checked whole has no mailbox twice (the file is refused
    # if it changes since): no hash to keep a message, so memory stays flat.
    if unique is None:
        unique = (isinstance(messages, PersonalisedRun)
                  and isinstance(messages.subscribers, SubscribersFile))
    writer = _Writer(where)
    try:
        for count, msg in enumerate(messages):
            name = outbox_name(msg.subscriber.email)
            path = os.path.join(where, name)
            if not unique:
                key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(),
                                     "big")
                if key in written:
                    raise ValueError(f"two messages for one mailbox: {msg.subscriber.email!r} "
                                     f"and {_recipient(path)!r} (one file, {name}); {count} "
                                     "written before it")
                written.add(key)
            if keep and os.path.lexists(path):
                yield msg, name, False
                continue
            if durable:
                from storykit.files import atomic_writer

                with atomic_writer(path) as f:
                    f.write(msg.data)
            else:
                writer.write(name, msg.data)
            yield msg, name, True
    finally:
        writer.close()
    if flush and not durable and hasattr(os, "sync"):
        os.sync()


def _recipient(path: str) -> str:
    """The address of the message already written at ``path`` (for an error message)."""
    from email import policy
    from email.parser import BytesHeaderParser

    with open(path, "rb") as f:
        to = BytesHeaderParser(policy=policy.default).parse(f)["to"]
    return str(to.addresses[0].addr_spec) if to is not None and to.addresses else path


class _Writer:
    """Files put in place whole in one folder: a reader never sees half a message.

    Where the system can (Linux: ``O_TMPFILE`` and ``/proc/self/fd``), each file is made
    without a name in the folder, written, then linked under its name: the folder's lock is
    taken once a file (for the link), not three times (make a temporary name, rename it,
    unlink a stale one), and a killed run leaves no temporary file. A name already taken (a
    rerun) or a system without these goes the portable way: a temporary name, renamed.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.dir_fd: int | None = None
        if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                self.dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)

    def write(self, name: str, data: bytes) -> None:
        if self.dir_fd is not None:
            try:
                fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o666, dir_fd=self.dir_fd)
            except OSError:  # the file system has no O_TMPFILE: the portable way from now on
                self.close()
            else:
                try:
                    _write_all(fd, data)
                    # (linkat with AT_SYMLINK_FOLLOW: os.link passes it given a dir_fd)
                    os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=self.dir_fd,
                            follow_symlinks=True)
                    return
                except FileExistsError:
                    pass  # replaced the portable way below
                finally:
                    os.close(fd)
        _write_replacing(os.path.join(self.folder, name), name, data)

    def close(self) -> None:
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_replacing(path: str, name: str, data: bytes) -> None:
    """``data`` to a temporary name beside ``path`` (whose file name is ``name``), then renamed
    into place."""
    tmp = os.path.join(os.path.dirname(path), f".{name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    try:
        # O_EXCL refuses a name already taken, a planted symlink included: never write
        # through a link. A stale temporary file (a killed run) or a link is removed and the
        # name taken again. Mode 0666: the kernel takes the umask off.
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            os.unlink(tmp)
            fd = os.open(tmp, flags, 0o666)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
