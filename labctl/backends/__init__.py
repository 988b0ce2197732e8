"""Container engines that run lab instances, and the base image they all start from.

Everything here drives the engine through the Docker SDK (never the docker CLI), returns values
or raises :class:`labctl.errors.BackendError`, and prints nothing.
"""
