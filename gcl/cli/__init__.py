"""The ``gcl`` command-line interface (see :mod:`gcl.cli.main`)."""
