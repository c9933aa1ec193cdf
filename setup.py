"""The C module of storykit; everything else about the package is in pyproject.toml.

``storykit._speedups`` renders the JSON export (see ``src/storykit/_speedups.c``). It is built
on CPython, and a failed build fails the install: without it the JSON export is twice as slow,
outside the performance goals. Other interpreters get the pure-Python path, which writes the
same bytes.
"""

import platform

from setuptools import Extension, setup

ext_modules = []
if platform.python_implementation() == "CPython":
    ext_modules.append(Extension("storykit._speedups", ["src/storykit/_speedups.c"],
                                 extra_compile_args=["-O2"] if platform.system() != "Windows"
                                 else []))

setup(ext_modules=ext_modules)
