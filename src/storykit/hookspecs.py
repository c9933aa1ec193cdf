"""Every hook storykit calls, typed and documented.

A plugin implements a hook by defining a function of the same name decorated with
``@storykit.hookimpl``. The docstrings here are rendered as the hook reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from storykit.exporter import Exporter
    from storykit.read.protocol import Reader

hookspec = pluggy.HookspecMarker("storykit")

# --- formats ------------------------------------------------------------------------------------


@hookspec
def register_exporters() -> Iterable[Exporter]:
    """Return the exporters (output formats) this plugin provides.

    Each exporter has ``name``, ``media_type``, ``suffix``, a one-line ``description`` and
    ``write(collection, out, **options)``, which writes the collection to the binary stream
    ``out``. An exporter may declare its options as an attrs class in ``options_type``; storykit
    then rejects unknown options and converts command-line strings to the declared types. An
    exporter without ``options_type`` takes no options. ``write`` may return how many stories
    it wrote (an ``int``, fewer when the format skips some), which ``storykit export`` prints;
    returning ``None`` says nothing.

    An exporter that must write by path (a database, a folder of pages) sets ``output =
    "file"`` or ``output = "folder"`` and implements ``write_path(collection, path,
    **options)``. :func:`storykit.dump` calls it with a temporary path in the target's folder
    (for a file: nothing is there yet; for a folder: an empty folder) and then moves the result
    into place, so a failed write leaves the previous output as it was. :func:`storykit.dumps`
    returns a file writer's bytes and refuses a folder writer. ``write`` or ``write_path`` may
    return the number of stories written.

    Format names are lowercase (``markdown``, ``atom``); the first plugin to register a name
    keeps it, and a later plugin claiming the same name is reported as an error naming both
    (built-in formats are registered first). A plugin whose hook raises, or returns something
    other than a list of exporters, is reported and left out; every other format keeps working.

    :returns: a list of exporter objects (an empty list is fine).

    .. code-block:: python

        @storykit.hookimpl
        def register_exporters():
            return [Markdown()]

    A distribution makes its module a plugin with an entry point of group ``storykit``:

    .. code-block:: toml

        [project.entry-points.storykit]
        markdown = "storykit_markdown"
    """
    raise NotImplementedError


@hookspec
def register_readers() -> Iterable[Reader]:
    """Return the readers (source formats) this plugin provides.

    Each reader has ``name``, ``suffixes`` (a tuple such as ``(".xml",)``; ``()`` for none),
    ``media_types`` (a tuple), a one-line ``description``, ``options_type`` (an attrs class
    of options, or ``None``: options are parsed and checked as an exporter's are), ``input``
    and ``read(source, **options)``, which returns a :class:`~storykit.Collection`. With
    ``input = "stream"`` (the default) ``source`` is a binary file object, named by
    ``getattr(source, "name", None)`` in messages; with ``input = "folder"`` it is the
    :class:`~pathlib.Path` of a folder; with ``input = "path"`` the :class:`~pathlib.Path` of
    a file the reader opens itself, such as a database (from :func:`storykit.loads`, a binary
    file object of the bytes). Build the collection with
    ``storykit.convert.collection_from_data(data, source=...)``: it checks plain data in
    storykit's field names and raises one :class:`~storykit.ValidationError` listing every
    problem.

    Optional: ``sniff(head)`` says whether the first bytes of a file (at most 4096) look like
    this format, for files whose suffix no reader claims; ``handles_where = True`` when
    ``read()`` takes ``where=``, a predicate on stories, and keeps only those it is true for
    (otherwise :func:`storykit.load` filters what ``read()`` returns).

    :func:`storykit.load` picks a reader by ``format=``, else by the file's suffix (a folder:
    the reader whose ``input`` is ``"folder"``), else by ``sniff()``. Names and suffixes are
    claimed as for exporters: the first plugin keeps them (built-in readers are registered
    first), and a later claim is reported naming both plugins. A plugin whose hook raises, or
    returns something other than a list of readers, is reported and left out; every other
    reader keeps working.

    :returns: a list of reader objects (an empty list is fine).

    .. code-block:: python

        @storykit.hookimpl
        def register_readers():
            return [OPMLReader()]
    """
    raise NotImplementedError


# --- themes: templates, filters, globals ---------------------------------------------------------


@hookspec
def register_template_dirs() -> Iterable[str | Path]:
    """Return folders of jinja2 templates that override or add to the built-in ones.

    A theme plugin overrides ``page.html`` (or any other built-in template) by shipping a file of
    the same name. Folders from plugins are searched before the built-in templates, and a
    ``template_dir`` option given to an exporter is searched before both.
    """
    raise NotImplementedError


@hookspec
def register_template_filters() -> Mapping[str, Callable[..., Any]]:
    """Return jinja2 filters to add to the template environment, by name.

    .. code-block:: python

        @storykit.hookimpl
        def register_template_filters():
            return {"shout": lambda s: s.upper()}
    """
    raise NotImplementedError


@hookspec
def register_template_globals() -> Mapping[str, Any]:
    """Return values and functions to add to every template's globals, by name."""
    raise NotImplementedError


# --- languages ----------------------------------------------------------------------------------


@hookspec
def register_translations() -> Iterable[str | Path]:
    """Return folders of gettext catalogues for the labels of the HTML page and email digest.

    Each folder holds ``<language>/LC_MESSAGES/storykit.po`` (or a compiled ``storykit.mo``),
    ``<language>`` in Babel's spelling: ``de``, ``pt_BR``, ``zh_Hant``. A ``.po`` file is
    compiled in memory the first time its language is used: no build step. Catalogues from
    plugins add languages to the built-in ones (en, fr, es, ar, he) or override their messages
    one by one: the built-in catalogue is read first, then the plugins' folders, the most recently
    registered plugin last (it wins). A message that no catalogue translates, or translates
    with an empty or fuzzy entry, stays English: never blank. Dates need no catalogue: they
    come from Babel's CLDR data for every language.

    Start from ``storykit/locale/en/LC_MESSAGES/storykit.po``: copy it, keep each ``msgid``,
    translate each ``msgstr``, and set the ``Language`` and ``Plural-Forms`` headers.

    .. code-block:: python

        from pathlib import Path

        @storykit.hookimpl
        def register_translations():
            return [Path(__file__).parent / "locale"]   # locale/de/LC_MESSAGES/storykit.po
    """
    raise NotImplementedError
