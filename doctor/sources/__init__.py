"""Sources: the only code that talks to the world. Each fills one part of ``Facts``.

They run concurrently, each after the sources it depends on; one that raises is
recorded as that source's error and the rest go on. Secret values gathered on the way
stay in ``Context.vault`` (memory only) and never reach ``Facts``.

Layout: ``context`` (what a source is handed), ``runner`` (runs them concurrently), one module per
source, ``live_*`` for the Google APIs. May import ``migrations``, ``cloudrun``, ``core`` and ``safety``.
"""
