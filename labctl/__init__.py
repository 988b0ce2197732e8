"""labctl: a cyber range for the ground segment of space systems.

Importing this package has no side effects: no logging set-up, no Docker
connection, no argument parsing. The command line lives in :mod:`labctl.cli`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
