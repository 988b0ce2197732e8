"""docs/protocols.md cannot rot: its examples run and its field tables match the code."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from labctl.protocols import pus, spacepacket, tc_frame, tm_frame
from labctl.protocols.fields import Layout

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocols.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
LAYOUTS = [
    value
    for module in (spacepacket, pus, tc_frame, tm_frame)
    for value in vars(module).values()
    if isinstance(value, Layout)
]


def test_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_doc_example_runs(code: str, layer_config: object) -> None:
    exec(compile(code, str(DOC), "exec"), {})


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_field_table_in_doc_matches_code(layout: Layout) -> None:
    assert layout.markdown_table() in DOC.read_text(encoding="utf-8")


def test_importing_the_codecs_does_not_import_scapy() -> None:
    code = (
        "import sys, labctl.protocols, labctl.protocols.sdls, labctl.protocols.cop1,"
        " labctl.protocols.stream; print('scapy' in sys.modules)"
    )
    root = DOC.parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"
