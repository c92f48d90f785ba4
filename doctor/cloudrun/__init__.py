"""The Cloud Run workload model: containers, Cloud SQL attachment, job command, shell, Dockerfile, serving.

Pure functions over exported or fetched configuration; may import ``core`` and ``safety`` only.
"""
