"""The class portal (``labctl serve``): the second edge over the core API, for students
and instructors in a browser (docs/portal.md)."""
