"""Parameters in inject arguments and briefings: sandboxed Jinja2, undefined names are errors.

The environment and the rules live in :mod:`labctl.spec.templates`, where the spec loader
also uses them to check a lab's templates with sample values before ``labctl up``; this
module keeps the names the scenario engine and the graders import.
"""

from labctl.spec.templates import RenderError, environment, render, render_text

__all__ = ["RenderError", "environment", "render", "render_text"]
