"""Graders: checks that probe a live lab instance, and the scoring around them.

Graders reason over observations handed to them by the layer above; they
never import a container backend (import-linter enforces this).
"""
