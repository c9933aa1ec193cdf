"""Every format a default registry offers keeps the exporter contract (storykit.testing)."""

from __future__ import annotations

from typing import Any, BinaryIO

import pytest

import storykit
from storykit.plugins import Registry
from storykit.testing import check_exporter

#: Every built-in format, found the way users find them: html, email and feeds join by themselves.
#: (Writers of a folder, such as site, write no stream for check_exporter: their own tests, such as
#: tests/test_site.py, check them with generated collections.)
FORMATS = sorted(name for name, exporter in Registry(autoload=False).formats().items()
                 if getattr(exporter, "output", "stream") == "stream")

#: Option sets worth checking too, per format.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "json": [{"shape": "stories", "indent": 2}, {"shape": "lines", "ensure_ascii": True}],
    "csv": [{"delimiter": "\t", "bom": True}, {"neutralise_formulas": False, "header": False}],
}


class TestConformance:
    def test_the_builtins_are_there(self) -> None:
        """json and csv are among the formats checked."""
        assert {"json", "csv"} <= set(FORMATS)

    @pytest.mark.parametrize("name", FORMATS)
    def test_format(self, name: str) -> None:
        """The format passes check_exporter with its default options."""
        check_exporter(Registry(autoload=False).get(name), max_examples=25)

    @pytest.mark.parametrize(("name", "options"), [
        (name, options) for name, variants in VARIANTS.items() for options in variants])
    def test_options(self, name: str, options: dict[str, Any]) -> None:
        """The format passes check_exporter with other options too."""
        check_exporter(Registry(autoload=False).get(name), max_examples=15, options=options)


class _Broken:
    name = "broken"
    media_type = "text/plain"
    suffix = ".txt"
    description = "Breaks the contract in a way chosen by the test."

    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.calls = 0

    def write(self, collection: storykit.Collection, out: BinaryIO,
              **options: Any) -> int | None:
        self.calls += 1
        if self.fault == "text":
            out.write(collection.title)  # type: ignore[arg-type]
        elif self.fault == "seek":
            out.write(b"x")
            out.seek(0)
        elif self.fault == "tell":
            out.write(b"x" * out.tell())
        elif self.fault == "close":
            out.write(b"x")
            out.close()
        elif self.fault == "count":
            out.write(b"ok")
            return len(collection) + 1
        elif self.fault == "typeerror":
            out.write(b"ok" + len(collection))  # type: ignore[operator]
        elif self.fault == "clock":
            out.write(str(self.calls).encode())
        elif self.fault == "awkward":
            for story in collection:
                if "<" in story.title or "=" in story.title:
                    raise ValueError("cannot handle markup")
            out.write(b"ok")
        else:
            out.write(b"ok")
        return None


class TestCheckExporterCatches:
    @pytest.mark.parametrize(("fault", "error", "says"), [
        ("text", AssertionError, "not bytes"),
        ("seek", AssertionError, r"write\(\) called seek\(\) or tell\(\) on its stream"),
        ("tell", AssertionError, r"write\(\) called seek\(\) or tell\(\) on its stream"),
        ("close", AssertionError, "closed the stream"),
        ("clock", AssertionError, "equal input gave different output"),
        ("awkward", AssertionError, "write\\(\\) raised ValueError: cannot handle markup"),
        ("count", AssertionError, "it may return None or the number of stories"),
        ("typeerror", AssertionError, "write\\(\\) raised TypeError: "),
    ])
    def test_faults(self, fault: str, error: type[Exception], says: str) -> None:
        """Each kind of broken exporter fails check_exporter with a telling message."""
        with pytest.raises(error, match=says):
            check_exporter(_Broken(fault), max_examples=60)

    @pytest.mark.parametrize(("attr", "value", "says"), [
        ("name", "Mark Down", "lowercase format name"),
        ("media_type", "markdown", "MIME type"),
        ("suffix", "md", "suffix must look like"),
        ("description", "two\nlines", "one line"),
    ])
    def test_bad_attributes(self, attr: str, value: str, says: str) -> None:
        """Bad names, media types, suffixes and descriptions are named."""
        exp = _Broken("none")
        setattr(exp, attr, value)
        with pytest.raises(AssertionError, match=says):
            check_exporter(exp, max_examples=1)

    def test_a_class_is_named(self) -> None:
        """The exporter class, given instead of an instance, is named with the fix."""
        with pytest.raises(AssertionError, match=r"not the class _Broken: pass _Broken\(\)"):
            check_exporter(_Broken, max_examples=1)  # type: ignore[arg-type]

    def test_good_passes(self) -> None:
        """A well-behaved exporter passes."""
        check_exporter(_Broken("none"), max_examples=5)

    def test_a_count_is_accepted(self) -> None:
        """A writer may return how many stories it wrote."""
        exp = _Broken("none")
        exp.write = lambda collection, out, **options: out.write(b"ok") and len(collection)
        check_exporter(exp, max_examples=5)

    def test_a_failure_is_an_assertion_error_with_its_cause(self) -> None:
        """An exception from write() is an AssertionError naming it, chained to it."""
        with pytest.raises(AssertionError) as e:
            check_exporter(_Broken("typeerror"), max_examples=5)
        assert isinstance(e.value.__cause__, TypeError)

    def test_invalid_options_are_an_assertion_error(self) -> None:
        """Options the format does not take fail with AssertionError, naming the option."""
        with pytest.raises(AssertionError, match="'indnet' does not exist"):
            check_exporter(Registry(autoload=False).get("json"), options={"indnet": 2})


class _StreamingCSV:
    """The csv format with a streaming fault chosen by the test."""

    def __new__(cls, fault: str) -> Any:
        from storykit.exporters.csv import CSVExporter

        class Faulty(CSVExporter):
            def write(self, collection: storykit.Collection, out: BinaryIO,
                      **options: Any) -> None:
                super().write(collection, out, **options)
                if fault == "stream":
                    out.write(b"# the end\r\n")  # written by write() only

            def continuation_options(self, options: dict[str, Any]) -> dict[str, Any]:
                if fault == "parts":
                    return {**options, "bom": False}  # the header row comes again
                return super().continuation_options(options)

        return Faulty()


class TestCheckExporterStreams:
    @pytest.mark.parametrize(("fault", "says"), [
        ("stream", "write_stream\\(\\) wrote other bytes than write\\(\\)"),
        ("parts", "do not concatenate to the whole output"),
    ])
    def test_stream_faults(self, fault: str, says: str) -> None:
        """A stream that differs from write(), or parts that repeat a header, are caught."""
        with pytest.raises(AssertionError, match=says):
            check_exporter(_StreamingCSV(fault), max_examples=10)

    def test_streams_without_write_stream(self) -> None:
        """streams = True without write_stream() is named."""
        exp = _Broken("none")
        exp.streams = True  # type: ignore[attr-defined]
        with pytest.raises(AssertionError, match="write_stream\\(\\) is missing"):
            check_exporter(exp, max_examples=1)
