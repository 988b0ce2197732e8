"""The grader's vantage programs: ``python3 -m labctl.range.vantage.<program>``.

They run in the grader's vantage container (from the attacker image) on the instance's
networks, each printing one JSON object as its last line; :mod:`labctl.range.vantage.agent`
runs them all for one grading run from a single process. The checks in
:mod:`graders.checks` name them through :mod:`labctl.range.wiring`.
"""
