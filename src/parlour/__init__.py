"""Parlour: a self-hosted multi-turn AI chat service."""

__version__ = "0.1.0"
