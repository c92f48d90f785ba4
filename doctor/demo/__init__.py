"""The demo: the seed incident replayed on a throwaway PostgreSQL, and that server's helper.

Sits above the engine: may import ``engine``, ``output``, ``core`` and ``safety``.
"""
