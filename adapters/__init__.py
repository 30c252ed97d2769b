"""Adapters implementing the domain's ports from a registry: ``mongo`` (MongoDB) and
``memory`` (the same document pipeline, kept in Python)."""
