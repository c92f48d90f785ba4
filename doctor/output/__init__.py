"""Output formats: the terminal table, JSON, Markdown, JUnit, SARIF and the progress line.

Renders finished diagnoses; may import ``core`` and ``safety``, never the sources or the checks.
"""
