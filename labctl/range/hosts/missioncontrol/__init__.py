"""Mission control: the operators' web UI and HTTP API, the ground link, the archive.

Run it with ``python -m labctl.range.hosts.missioncontrol [--config FILE]``; in tests build the
application with :func:`labctl.range.hosts.missioncontrol.app.create_app`. Importing this
package starts nothing and imports neither FastAPI nor scapy.
"""
