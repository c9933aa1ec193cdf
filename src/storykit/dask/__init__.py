"""storykit's jobs on a Dask cluster: read, validate, export and personalise archives that
outgrow one machine.

Install the extra (``pip install "storykit[dask]"``); nothing here is imported by
``import storykit``. Every function runs on the Dask scheduler in effect: a
``distributed.Client`` you made, or the one :func:`client` makes for an address or
``"local"``. Paths are fsspec URLs (``s3://``, ``gcs://``, ``file://`` or plain paths, globs
allowed); the workers must be able to open them.

A JSON Lines archive is split into blocks of about ``blocksize`` bytes on line boundaries (by
default 64 MiB, smaller for an archive under 2 GiB so that it makes :data:`AUTO_BLOCKS` blocks
for the workers to share, none under 1 MiB); each block is read by a worker, about
:data:`CHUNK_BYTES` at a time, and each line parsed and checked once by the code one process
runs (so each story meets exactly its rules). What one process decides over the whole file is
then decided once over the whole archive, from what the workers send back (8 bytes a story:
a hash of its id): ids given twice are problems naming both places, and ids derived from
titles are numbered (``-2``, ``-3``) as :func:`storykit.load` numbers them; only when two
hashes meet are the workers asked for those ids and where they are.
A CSV file is one block (a quoted cell may hold a line break, so a CSV file cannot be split on
line breaks alone).
"""

from __future__ import annotations

from storykit.dask.blocks import AUTO_BLOCKS, CHUNK_BYTES, read_stories, validate
from storykit.dask.cluster import client
from storykit.dask.digests import DigestReport, digests
from storykit.dask.export import export

__all__ = ["AUTO_BLOCKS", "CHUNK_BYTES", "DigestReport", "client", "digests", "export",
           "read_stories", "validate"]
