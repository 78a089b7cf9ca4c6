"""Tessera conformance suite: language-neutral cases and a runner for any runtime."""
