"""netra-doctor: why a Cloud Run service and its migration job disagree about the database."""

__version__ = "0.1.0"
