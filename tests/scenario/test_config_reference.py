"""The reference of every host's configuration keys in docs/ground-segment.md is the one
the hosts' parsers give today (`labctl schema config`)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from labctl.cli.app import app
from labctl.range.configfiles import (
    CONFIG_FILES,
    REFERENCE_BEGIN,
    REFERENCE_END,
    config_reference,
    reference_in,
    with_reference,
)

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ground-segment.md"


def test_the_documented_reference_is_up_to_date() -> None:
    documented = reference_in(DOC.read_text(encoding="utf-8"))
    assert documented is not None, f"{DOC} lost the reference's markers"
    assert documented == config_reference(REPO), (
        "the configuration keys changed: run `labctl schema config -o docs/ground-segment.md`"
    )


def test_the_reference_names_every_file_and_the_keys_labs_set() -> None:
    reference = config_reference(REPO)
    for config in CONFIG_FILES:
        assert f"#### {config.role}: `{config.path}`" in reference
    for key in (
        "`sdls.associations.<name>.anti_replay`",
        "`uplink.sa.spi`",
        "`users.<name>.password`",
        "`policy.hazardous_requires`",
        "`channel.jamming.uplink`",
    ):
        assert key in reference
    assert "| `sdls.associations.<name>.state` | one of unkeyed, keyed, operational |" in (
        reference
    )


def test_only_the_part_between_the_markers_is_replaced() -> None:
    document = f"before\n{REFERENCE_BEGIN}\nold\n{REFERENCE_END}\nafter\n"
    new = f"{REFERENCE_BEGIN}\nnew\n{REFERENCE_END}\n"
    assert with_reference(document, new) == f"before\n{new}after\n"
    assert reference_in(f"before\n{new}after\n") == new
    assert with_reference("no markers", new) is None
    assert reference_in("no markers") is None


def test_labctl_schema_config_prints_it_and_splices_it_into_a_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema", "config"])
    assert result.exit_code == 0, result.output
    assert result.stdout == config_reference(REPO)
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\n{REFERENCE_BEGIN}\n{REFERENCE_END}\n\nEnd.\n", "utf-8")
    result = CliRunner().invoke(app, ["schema", "config", "-o", str(doc)])
    assert result.exit_code == 0, result.output
    assert doc.read_text("utf-8") == f"# Title\n\n{config_reference(REPO)}\nEnd.\n"
