"""Static readers of a checkout: Alembic layout, revision operations, Python source, models, SQL, plans.

Reads source text it is handed and never imports or runs it; may import ``core``, ``cloudrun`` and ``safety``.
"""
