"""Adapters implementing the domain's ports: ``mongo`` (MongoDB) and ``memory``."""
