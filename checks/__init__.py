"""Built-in checks: one module per concern, each registered under `netra_doctor.checks`."""
