"""Blueprints, one per audience: reader, live stream, editor desk, API and health."""
