"""The installed pactx version."""

__version__ = "0.1.0"
