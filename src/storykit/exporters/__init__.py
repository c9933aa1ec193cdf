"""The built-in exporters: each module is an ordinary plugin (see ``BUILTIN_PLUGINS``)."""
