"""``python -m labctl``."""

from labctl.cli.app import main

main()
