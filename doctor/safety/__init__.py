"""Safety: secret fingerprints and scrubbing, redaction of gathered facts, the gate for untrusted text.

The lowest layer: imports only the standard library (and the Facts type, for annotations).
"""
