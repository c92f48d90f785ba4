"""Core: configuration, the Facts snapshot, the check registry, the cause catalog, diagnosis and errors.

Imports only the standard library, its own modules and ``netra_doctor.safety``.
"""
