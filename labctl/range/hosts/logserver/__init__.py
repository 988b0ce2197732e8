"""The log collector: a remote, append-only store for other hosts' records (the audit
trail mission control ships), in the labs that add a ``log-server`` host."""
