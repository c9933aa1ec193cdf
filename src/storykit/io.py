"""The names ``storykit.io`` had, kept importable for existing code.

Reading lives in :mod:`storykit.read`, story-at-a-time reading in :mod:`storykit.stream`,
writing in :mod:`storykit.write` and output files in :mod:`storykit.files`; import from there.
"""

from __future__ import annotations

from storykit.files import (
    MAX_NAME_BYTES,
    atomic_writer,
    check_output_path,
    is_stream_target,
    safe_join,
)
from storykit.read import MAX_BYTES, load, loads
from storykit.read.csv import MAX_CSV_FIELD
from storykit.read.json import MAX_JSON_DEPTH
from storykit.read.jsonl import MAX_LINE
from storykit.stream import (
    PARALLEL_MIN_BYTES,
    check_stream,
    iter_stories,
    stream_export,
    streamable,
)
from storykit.write import (
    SUFFIX_OPTIONS,
    dump,
    dumps,
    exporter_and_options_for_path,
    write_with,
)

__all__ = [
    "MAX_BYTES",
    "MAX_CSV_FIELD",
    "MAX_JSON_DEPTH",
    "MAX_LINE",
    "MAX_NAME_BYTES",
    "PARALLEL_MIN_BYTES",
    "SUFFIX_OPTIONS",
    "atomic_writer",
    "check_output_path",
    "check_stream",
    "dump",
    "dumps",
    "exporter_and_options_for_path",
    "is_stream_target",
    "iter_stories",
    "load",
    "loads",
    "safe_join",
    "stream_export",
    "streamable",
    "write_with",
]
