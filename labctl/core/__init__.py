"""The core API both edges (the CLI, the portal) call: typed results, progress events."""
