"""Slatehouse: an analytics warehouse for data-driven programming at a streaming service."""

__version__ = "0.1.0"
