"""The project's settings, one module per use: ``production`` (the default), ``local`` and ``test``,
each on top of ``base``."""
