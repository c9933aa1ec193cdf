"""The security figure: the hostile corpus through every loader and every registered format.

Prints exactly one line::

    hostile inputs: N tried x M formats, 0 unsafe outputs, K faults injected, 0 partial files

computed for real:

- N: every case of ``tests/hostile`` (valid-but-hostile documents, refused documents, bombs)
  plus the hostile output paths;
- M: the formats registered in this installation (built-ins and installed plugins);
- unsafe outputs: an output that fails its media type's checker (html5lib + the W3C Nu checker,
  csv, strict email parsing, feedparser, ...), a hostile input that is not refused with a
  ``ValidationError`` naming its field, or a bomb that takes a second or more to refuse;
- K: faults injected into real writes (an exporter raising, ENOSPC, fsync and os.replace
  failing, an interrupt, SIGKILL in a subprocess), each with unnamed and named temporary files;
- partial files: after a fault, an old output not byte-identical, a temporary file left, or a
  next run that fails.

Details of anything that went wrong go to standard error, and the exit status is then 1.
Run it with ``make security``.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hostile import checks, corpus  # noqa: E402

import storykit  # noqa: E402
import storykit.files  # noqa: E402
from storykit.plugins import Registry, hookimpl, use_registry  # noqa: E402

VNU_JAR = ROOT / ".venv" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
#: The longest a bomb may take to be refused (seconds).
BOMB_SECONDS = 1.0

findings: list[str] = []


def finding(message: str) -> None:
    findings.append(message)


# --- inputs --------------------------------------------------------------------------------------


def load(case: corpus.Case, tmp: Path) -> storykit.Collection:
    if case.size:
        path = tmp / "big.json"
        with path.open("wb") as f:
            f.truncate(case.size)
        return storykit.load(path)
    if case.format == "python":
        return storykit.Collection(**json.loads(case.data.decode("utf-8", "surrogatepass")))
    return storykit.loads(case.data, case.format)


def refused(case: corpus.Case, tmp: Path) -> bool:
    """Whether ``case`` is refused as it must be (and, for a bomb, fast enough)."""
    start = time.perf_counter()
    try:
        load(case, tmp)
    except storykit.ValidationError as e:
        took = time.perf_counter() - start
        ok = any((case.path is None or d.path == case.path) and case.message in d.message
                 and (case.value is corpus._UNSET or d.value == case.value) for d in e.errors)
        if not ok:
            finding(f"{case.name}: refused, but not as expected: {e}")
        if took >= BOMB_SECONDS:
            finding(f"{case.name}: took {took:.2f} s to refuse")
        return ok and took < BOMB_SECONDS
    except Exception as e:
        finding(f"{case.name}: {type(e).__name__} instead of ValidationError: {e}")
        return False
    finding(f"{case.name}: accepted")
    return False


def output_paths(tmp: Path) -> tuple[int, int]:
    """Hostile output paths: (tried, handled wrongly)."""
    col = storykit.Collection(title="x", stories=[
        {"title": "A", "published": "2021-02-03", "summary": "s"}])
    bad = 0
    names = ["CON.html", "nul.json", "Com1.csv", "lpt9", "x" * 252 + ".json",
             "\u00e9" * 126 + ".json", "out/", "a\nb.json"]
    for name in names:
        try:
            storykit.dump(col, f"{tmp}/{name}", format="json")
            finding(f"output name {name[:40]!r} was written")
            bad += 1
        except storykit.ValidationError:
            pass
    escapes = ["../escape.html", "/etc/passwd", "a/b.html", ".."]
    for name in escapes:
        try:
            storykit.files.safe_join(tmp, name)
            finding(f"safe_join accepted {name!r}")
            bad += 1
        except storykit.ValidationError:
            pass
    victim = tmp / "victim.txt"
    victim.write_bytes(b"precious")
    link = tmp / "link.json"
    link.symlink_to(victim)
    storykit.dump(col, link)
    if link.is_symlink() or victim.read_bytes() != b"precious":
        finding("dump() wrote through a planted symlink")
        bad += 1
    return len(names) + len(escapes) + 1, bad


# --- outputs -------------------------------------------------------------------------------------


def render(registry: Registry, col: storykit.Collection, fmt: str) -> bytes:
    buf = io.BytesIO()
    registry.get(fmt).write(col, buf)
    return buf.getvalue()


def unsafe_outputs(registry: Registry, cols: dict[str, storykit.Collection],
                   tmp: Path) -> int:
    bad = 0
    benign = storykit.loads(json.dumps(corpus.everywhere("Plain text")))
    html_files: dict[str, str] = {}
    for fmt, info in registry.exporters.items():
        mtype = checks.media_type(info.exporter.media_type)
        headers = (list(checks.parse_message(render(registry, benign, fmt)).keys())
                   if mtype == "message/rfc822" else None)
        for name, col in cols.items():
            try:
                data = render(registry, col, fmt)
            except Exception as e:
                finding(f"{fmt} {name}: export failed: {type(e).__name__}: {e}")
                bad += 1
                continue
            problems = (checks.email_problems(data, headers) if headers is not None
                        else checks.problems(mtype, data))
            if mtype == "text/html":
                path = tmp / f"{fmt}-{name}.html"
                path.write_bytes(data)
                html_files[str(path)] = f"{fmt} {name}"
            if problems:
                finding(f"{fmt} {name}: {problems[:3]}")
                bad += 1
    if html_files:
        if not VNU_JAR.exists() or shutil.which("java") is None:
            raise SystemExit("security: vnu.jar or java is missing; run `make install`")
        for path, errors in checks.vnu_problems(html_files, str(VNU_JAR)).items():
            if errors:
                finding(f"{html_files.get(path, path)}: {errors[:3]}")
                bad += 1
    return bad


# --- faults --------------------------------------------------------------------------------------

OLD = b'{"old": "output"}'


class Exploding:
    name, media_type, suffix, description = "exploding", "application/x-boom", ".boom", "x"

    def write(self, collection: Any, out: Any, **options: Any) -> None:
        out.write(b"[" + b"1," * 50_000)
        raise RuntimeError("exporter fault")


class FullDisk(io.FileIO):
    def write(self, b: Any) -> int:
        if self.tell() + len(b) > 64 * 1024:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(b)


def big() -> storykit.Collection:
    return storykit.Collection(title="Big", stories=[
        {"title": f"Story {i}", "published": "2021-02-03", "summary": "word " * 40}
        for i in range(2000)])


def _raising(err: int) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(err, os.strerror(err))

    return fail


def _interrupted(target: Path) -> None:
    with storykit.files.atomic_writer(target) as out:
        out.write(b"partial")
        raise KeyboardInterrupt


def in_process_faults() -> list[tuple[str, Callable[[Path], None], dict[str, Any]]]:
    """(name, action, patches of os) for each fault run inside this process."""
    def full_disk_fdopen(fd: int, mode: str = "r", buffering: int = -1, *a: Any,
                         **k: Any) -> Any:
        return io.BufferedWriter(FullDisk(fd, "wb"), buffer_size=max(buffering, 8192))

    return [
        ("exporter raises", lambda t: storykit.dump(big(), t, format="exploding"), {}),
        ("disk full", lambda t: storykit.dump(big(), t), {"fdopen": full_disk_fdopen}),
        ("fsync fails", lambda t: storykit.dump(big(), t), {"fsync": _raising(errno.EIO)}),
        ("replace fails", lambda t: storykit.dump(big(), t),
         {"replace": _raising(errno.EACCES)}),
        ("replace across devices", lambda t: storykit.dump(big(), t),
         {"replace": _raising(errno.EXDEV)}),
        ("link fails", lambda t: storykit.dump(big(), t), {"link": _raising(errno.EMLINK)}),
        ("interrupt", _interrupted, {}),
    ]


def check_after(target: Path, what: str, *, alone: bool = True) -> int:
    """0 if the old file is intact (and ``alone`` in its folder) and the next run works,
    leaving nothing else behind; else 1."""
    bad = 0
    if target.read_bytes() != OLD:
        finding(f"{what}: the previous output changed")
        bad = 1
    left = sorted(p.name for p in target.parent.iterdir() if p != target)
    if left and alone:
        finding(f"{what}: left {left}")
        bad = 1
    col = storykit.Collection(title="next", stories=[
        {"title": "A", "published": "2021-02-03", "summary": "s"}])
    try:
        storykit.dump(col, target)
        if storykit.load(target) != col or len(list(target.parent.iterdir())) != 1:
            raise RuntimeError("wrong output or a file left over")
    except Exception as e:
        finding(f"{what}: the next run failed: {e}")
        bad = 1
    return bad


KILL_SCRIPT = textwrap.dedent("""
    import sys
    import storykit, storykit.files
    from storykit.plugins import get_exporter
    col = storykit.Collection(title="Big", stories=[
        {"title": f"Story {i}", "published": "2021-02-03", "summary": "word " * 200}
        for i in range(20_000)])
    with storykit.files.atomic_writer(sys.argv[1]) as out:
        get_exporter("json").write(col, out)
        out.flush()
        print("written", flush=True)
        sys.stdin.read()
""")


def faults(tmp: Path) -> tuple[int, int]:
    """(faults injected, partial files)."""
    registry = Registry(autoload=False)

    class Plugin:
        @hookimpl
        def register_exporters(self) -> list[Exploding]:
            return [Exploding()]

    registry.register(Plugin(), "exploding")
    injected = partial = 0
    saved = {name: getattr(os, name) for name in ("fdopen", "fsync", "replace", "link")}
    with use_registry(registry):
        for unnamed in (False,):  # (the temporary file is always a named one)
            mode = "named"
            for name, action, patches in in_process_faults():
                if "link" in patches and not unnamed:
                    continue  # named temporary files are never linked
                folder = tmp / f"fault-{mode}-{injected}"
                folder.mkdir()
                target = folder / "out.json"
                target.write_bytes(OLD)
                for attr, fake in patches.items():
                    setattr(os, attr, fake)
                try:
                    action(target)
                    finding(f"{name} ({mode}): no error")
                except (Exception, KeyboardInterrupt):
                    pass
                finally:
                    for attr, real in saved.items():
                        setattr(os, attr, real)
                injected += 1
                partial += check_after(target, f"{name} ({mode})")
            # SIGKILL in a subprocess, mid-export.
            folder = tmp / f"kill-{mode}"
            folder.mkdir()
            target = folder / "out.json"
            target.write_bytes(OLD)
            proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(target), mode],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert proc.stdout is not None
            if proc.stdout.readline() != b"written\n":
                finding(f"SIGKILL ({mode}): the export did not start")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            injected += 1
            # A killed writer cannot remove a named temporary file; the next run must.
            partial += check_after(target, f"SIGKILL ({mode})", alone=unnamed)
    return injected, partial


def main() -> int:
    registry = Registry()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        accepted, rejected = corpus.accepted(), corpus.rejected()
        unsafe = 0
        cols: dict[str, storykit.Collection] = {}
        for case in accepted:
            try:
                cols[case.name] = load(case, tmp)
            except Exception as e:
                finding(f"{case.name}: refused a valid document: {e}")
                unsafe += 1
        unsafe += sum(not refused(case, tmp) for case in rejected)
        (tmp / "paths").mkdir()
        paths_tried, paths_bad = output_paths(tmp / "paths")
        unsafe += paths_bad
        unsafe += unsafe_outputs(registry, cols, tmp)
        injected, partial = faults(tmp)
    tried = len(accepted) + len(rejected) + paths_tried
    print(f"hostile inputs: {tried} tried x {len(registry.exporters)} formats, {unsafe} unsafe "
          f"outputs, {injected} faults injected, {partial} partial files", flush=True)
    for line in findings:
        print(f"security: {line}", file=sys.stderr)
    return 1 if unsafe or partial or findings else 0


if __name__ == "__main__":
    sys.exit(main())
