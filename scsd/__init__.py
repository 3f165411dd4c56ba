"""scsd: the Shared Context Server daemon."""

__version__ = "0.1.0"
