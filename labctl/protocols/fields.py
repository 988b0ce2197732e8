"""Field tables: each header is described once, here, as a sequence of bit fields.

A :class:`Layout` is rendered two ways:

* as a tiny int/struct codec (:meth:`Layout.pack`, :meth:`Layout.unpack`) used by the
  emulators' hot paths, which must not import scapy (about 75 MiB per process);
* as scapy fields (:func:`labctl.protocols.layers.common.scapy_fields`) for the
  layers that students, graders and forensics use.

Tests prove both renderings byte-identical, so the table is the single source of truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from labctl.errors import ProtocolError


@dataclass(frozen=True, slots=True)
class Bits:
    """One header field: ``width`` bits, most significant bit first.

    ``default`` is None for fields computed on build (lengths, pointers).
    """

    name: str
    width: int
    default: int | None = 0
    enum: type[IntEnum] | None = None
    hex: bool = False
    doc: str = ""


class Layout:
    """A fixed-size header made of :class:`Bits`, big-endian, octet aligned as a whole."""

    __slots__ = ("_pack", "_specs", "_unpack", "fields", "name", "names", "reference", "size")

    def __init__(self, name: str, reference: str, fields: Sequence[Bits]) -> None:
        total = sum(f.width for f in fields)
        if total % 8:
            raise ValueError(f"{name}: {total} bits is not a whole number of octets")
        self.name = name
        self.reference = reference
        self.fields: tuple[Bits, ...] = tuple(fields)
        self.names: tuple[str, ...] = tuple(f.name for f in fields)
        self.size = total // 8
        specs: list[tuple[str, int, int]] = []
        shift = total
        for f in fields:
            shift -= f.width
            specs.append((f.name, shift, (1 << f.width) - 1))
        self._specs: tuple[tuple[str, int, int], ...] = tuple(specs)
        self._pack, self._unpack = _compile(self._specs, self.size)

    def pack(self, values: Sequence[int]) -> bytes:
        """Pack one value per field, in table order. Out-of-range values raise."""
        if len(values) != len(self._specs):
            raise ProtocolError(f"{self.name}: {len(self._specs)} values expected")
        word = self._pack(*values)
        if word is None:
            for (name, _, mask), value in zip(self._specs, values, strict=True):
                if not 0 <= value <= mask:
                    raise ProtocolError(f"{self.name}.{name}={value!r} does not fit in the field")
        return word  # type: ignore[no-any-return]

    def unpack(self, buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, ...]:
        """Field values read at ``offset``; a short buffer raises :class:`ProtocolError`."""
        end = offset + self.size
        if offset < 0 or len(buf) < end:
            raise ProtocolError(f"{self.name}: need {self.size} octets at offset {offset}")
        return self._unpack(int.from_bytes(buf[offset:end], "big"))  # type: ignore[no-any-return]

    def defaults(self) -> dict[str, int | None]:
        """Default value per field name (None = computed on build)."""
        return {f.name: f.default for f in self.fields}

    def markdown_table(self) -> str:
        """The field table as Markdown (used to keep docs/protocols.md honest)."""
        rows = ["| field | bits | default | meaning |", "|---|---|---|---|"]
        for f in self.fields:
            default = "computed" if f.default is None else str(f.default)
            rows.append(f"| `{f.name}` | {f.width} | {default} | {f.doc} |")
        return "\n".join(rows)


def _compile(specs: Sequence[tuple[str, int, int]], size: int) -> tuple[Any, Any]:
    """Straight-line pack/unpack for one table (the technique of dataclasses/namedtuple):
    the emulators' hot path runs these, several times faster than a loop over fields."""
    args = ", ".join(f"v{i}" for i in range(len(specs)))
    checks = " and ".join(f"0 <= v{i} <= {mask}" for i, (_, _, mask) in enumerate(specs))
    word = " | ".join(f"(v{i} << {shift})" for i, (_, shift, _) in enumerate(specs))
    fields = ", ".join(f"(w >> {shift}) & {mask}" for _, shift, mask in specs)
    source = (
        f"def pack({args}):\n"
        f"    if not ({checks}):\n        return None\n"
        f"    return ({word}).to_bytes({size}, 'big')\n"
        f"def unpack(w):\n    return ({fields},)\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # source built only from the table's own integers
    return namespace["pack"], namespace["unpack"]
