"""Space Data Link Security, CCSDS 355.0-B-2, over TC and TM frames.

Security header (§4.1.1 for TC, §4.2.2 for TM), placed after the frame primary header
(and the TC segment header, and the TM secondary header):

    SPI (2) | IV (iv_len) | sequence number (sn_len) | pad length (pl_len)

and the security trailer: MAC (mac_len). Lengths are managed parameters of the security
association (SA), looked up by SPI. The MAC covers the frame headers, the security header
and the data field; never the OCF or the FECF (§4.1.1.1 / §4.2.1).

Scheme used here (documented in docs/protocols.md):

* The sender keeps one counter per SA and increments it for every frame. The IV is that
  counter, big-endian over ``iv_len`` octets; the sequence number field (if ``sn_len`` > 0)
  carries the same counter. The anti-replay sequence number (ARSN) is the sequence number
  field when present, otherwise the IV read as a big-endian integer (the usual AES-GCM
  baseline: 12-octet IV, no separate sequence number, 16-octet tag).
* Authenticated encryption is AES-GCM with AAD = headers + security header.
  Authentication only is AES-CMAC or HMAC-SHA256 (truncated to ``mac_len``) over the same
  octets followed by the plaintext data.
* Anti-replay (§3.4.2.3.2): a frame is accepted when last < ARSN <= last + window. The MAC is
  checked first, so a forged frame is "bad MAC" and a replayed genuine frame is "bad SN".
  ``window == 0`` disables the check: a lab weakness on purpose.
"""

from __future__ import annotations

import hmac
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from labctl.errors import ProtocolError
from labctl.protocols.tc_frame import SEGMENT_HEADER_SIZE, TcFrame
from labctl.protocols.tm_frame import OCF_SIZE, Fsr, TmFrame

SPI_SIZE: Final = 2
GCM_IV_SIZE: Final = 12
GCM_TAG_SIZE: Final = 16
MAX_IV_SIZE: Final = 16
MAX_SN_SIZE: Final = 8
MAX_PL_SIZE: Final = 2
MAX_MAC_SIZE: Final = 32
AES_KEY_SIZES: Final = (16, 24, 32)


class ServiceType(IntEnum):
    """Security service of an SA (355.0-B-2 §2.3.1)."""

    PLAINTEXT = 0
    AUTHENTICATION = 1
    AUTHENTICATED_ENCRYPTION = 3


class SaState(IntEnum):
    """SA life cycle (355.0-B-2 §3.3, 355.1-B-1 §2.3): only operational SAs process frames."""

    UNKEYED = 1
    KEYED = 2
    OPERATIONAL = 3


class MacAlgorithm(IntEnum):
    AES_GCM = 0
    AES_CMAC = 1
    HMAC_SHA256 = 2


class RejectReason(IntEnum):
    """Why ProcessSecurity refused a frame; each maps onto Frame Security Report flags."""

    BAD_SA = 1
    SA_NOT_OPERATIONAL = 2
    BAD_SN = 3
    BAD_MAC = 4
    MALFORMED = 5


class SecurityRejected(ProtocolError):
    """A frame failed ProcessSecurity; ``reason`` says why."""

    def __init__(self, reason: RejectReason, spi: int | None, detail: str) -> None:
        self.reason = reason
        self.spi = spi
        super().__init__(f"SDLS rejected frame ({reason.name}, spi={spi}): {detail}")


#: Managed parameter defaults per service, (iv_len, sn_len, mac_len): the usual AES-GCM
#: baseline, a 4-octet sequence number where there is no IV to carry it.
DEFAULT_LENGTHS: Final[dict[ServiceType, tuple[int, int, int]]] = {
    ServiceType.PLAINTEXT: (0, 4, 0),
    ServiceType.AUTHENTICATION: (0, 4, 16),
    ServiceType.AUTHENTICATED_ENCRYPTION: (GCM_IV_SIZE, 0, GCM_TAG_SIZE),
}


@dataclass(slots=True)
class SecurityAssociation:
    """One SA: its managed parameters (fixed) and its state and sequence number (mutable).

    ``sequence_number`` is the last number sent (sender side) or accepted (receiver side).
    ``vcids`` restricts the virtual channels the SA may protect; empty means any.
    """

    spi: int
    service: ServiceType = ServiceType.AUTHENTICATED_ENCRYPTION
    key_id: int = 0
    state: SaState = SaState.OPERATIONAL
    iv_len: int = GCM_IV_SIZE
    sn_len: int = 0
    pl_len: int = 0
    mac_len: int = GCM_TAG_SIZE
    window: int = 64
    mac_algorithm: MacAlgorithm = MacAlgorithm.AES_GCM
    vcids: frozenset[int] = frozenset()
    sequence_number: int = 0

    def __post_init__(self) -> None:
        problem = _sa_problem(self)
        if problem:
            raise ValueError(f"SA {self.spi}: {problem}")

    @property
    def header_size(self) -> int:
        return SPI_SIZE + self.iv_len + self.sn_len + self.pl_len

    @property
    def overhead(self) -> int:
        """Octets SDLS adds to the frame data field (security header + trailer)."""
        return self.header_size + self.mac_len

    @property
    def max_sequence_number(self) -> int:
        octets = self.sn_len or self.iv_len
        return (1 << (8 * octets)) - 1 if octets else 0


def _sa_problem(sa: SecurityAssociation) -> str:
    checks = (
        (0 <= sa.spi <= 0xFFFF, "SPI is 16 bits"),
        (0 <= sa.iv_len <= MAX_IV_SIZE, f"iv_len is 0..{MAX_IV_SIZE}"),
        (0 <= sa.sn_len <= MAX_SN_SIZE, f"sn_len is 0..{MAX_SN_SIZE}"),
        (0 <= sa.pl_len <= MAX_PL_SIZE, f"pl_len is 0..{MAX_PL_SIZE}"),
        (sa.window >= 0, "window is >= 0 (0 disables anti-replay)"),
    )
    for ok, text in checks:
        if not ok:
            return text
    if sa.service is ServiceType.PLAINTEXT:
        return "" if sa.mac_len == 0 else "a plaintext SA has no MAC (mac_len 0)"
    if sa.service is ServiceType.AUTHENTICATED_ENCRYPTION:
        gcm = (sa.mac_algorithm, sa.iv_len, sa.mac_len) == (
            MacAlgorithm.AES_GCM,
            GCM_IV_SIZE,
            GCM_TAG_SIZE,
        )
        return "" if gcm else "authenticated encryption is AES-GCM, iv_len 12, mac_len 16"
    limit = 16 if sa.mac_algorithm is MacAlgorithm.AES_CMAC else MAX_MAC_SIZE
    if sa.mac_algorithm is MacAlgorithm.AES_GCM or not 1 <= sa.mac_len <= limit:
        return f"authentication uses AES-CMAC or HMAC-SHA256 with mac_len 1..{limit}"
    return ""


class Keyring:
    """Key id -> key octets. The labs load it from (deliberately weak or strong) key files."""

    def __init__(self, keys: Mapping[int, bytes] | None = None) -> None:
        self._keys: dict[int, bytes] = {}
        for key_id, key in (keys or {}).items():
            self.add(key_id, key)

    def add(self, key_id: int, key: bytes) -> None:
        if len(key) not in AES_KEY_SIZES:
            raise ValueError(f"key {key_id}: AES keys are 16, 24 or 32 octets")
        self._keys[key_id] = bytes(key)

    def get(self, key_id: int) -> bytes | None:
        return self._keys.get(key_id)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys


@dataclass(frozen=True, slots=True)
class SecurityHeader:
    """The parsed security header of one frame."""

    spi: int
    iv: bytes
    sn: bytes
    pad_length: int

    def encode(self, sa: SecurityAssociation) -> bytes:
        pad = self.pad_length.to_bytes(sa.pl_len, "big") if sa.pl_len else b""
        return self.spi.to_bytes(SPI_SIZE, "big") + self.iv + self.sn + pad

    def arsn(self) -> int:
        """Anti-replay sequence number: the SN field, else the IV as a counter."""
        return int.from_bytes(self.sn or self.iv, "big")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of ProcessSecurity for one frame."""

    accepted: bool
    reason: RejectReason | None
    spi: int | None
    sequence_number: int | None
    data: bytes  # clear frame data field (segment header + user data) when accepted


def parse_security_header(field: bytes, sa: SecurityAssociation) -> SecurityHeader:
    """Split the security header off ``field`` using the SA's lengths."""
    if len(field) < sa.overhead:
        raise SecurityRejected(RejectReason.MALFORMED, sa.spi, "shorter than SDLS overhead")
    iv_end = SPI_SIZE + sa.iv_len
    sn_end = iv_end + sa.sn_len
    pad = int.from_bytes(field[sn_end : sa.header_size], "big")
    return SecurityHeader(sa.spi, bytes(field[SPI_SIZE:iv_end]), bytes(field[iv_end:sn_end]), pad)


@dataclass
class SdlsEngine:
    """ApplySecurity / ProcessSecurity for one end of the link, plus its FSR state."""

    associations: dict[int, SecurityAssociation]
    keyring: Keyring
    _gcm: dict[bytes, AESGCM] = field(default_factory=dict, repr=False)
    _last_spi: int = 0
    _last_sn: int = 0
    _flags: set[RejectReason] = field(default_factory=set)

    @classmethod
    def of(cls, associations: Iterable[SecurityAssociation], keyring: Keyring) -> SdlsEngine:
        return cls({sa.spi: sa for sa in associations}, keyring)

    # -- apply ----------------------------------------------------------------
    def apply(self, spi: int, aad_prefix: bytes, data: bytes) -> bytes:
        """Security header + protected data + MAC, for a frame whose headers are ``aad_prefix``."""
        sa = self._sendable(spi)
        if sa.iv_len or sa.sn_len:
            if sa.sequence_number >= sa.max_sequence_number:
                raise ProtocolError(f"SA {spi}: sequence number exhausted, rekey")
            sa.sequence_number += 1
        n = sa.sequence_number
        iv = n.to_bytes(sa.iv_len, "big") if sa.iv_len else b""
        sn = n.to_bytes(sa.sn_len, "big") if sa.sn_len else b""
        header = SecurityHeader(spi, iv, sn, 0).encode(sa)
        return header + self._seal(sa, iv, aad_prefix + header, data)

    def protect_tc(
        self, frame: TcFrame, spi: int, segment_header: bool = True, fecf: bool = True
    ) -> TcFrame:
        """The same frame with SDLS applied to its data field (after the segment header)."""
        sa = self._sendable(spi)
        split = SEGMENT_HEADER_SIZE if segment_header else 0
        if len(frame.data) <= split:
            raise ProtocolError("nothing to protect in the TC frame data field")
        seg, user = frame.data[:split], frame.data[split:]
        sized = replace(frame, data=bytes(len(frame.data) + sa.overhead))
        prefix = sized.header(fecf) + seg
        return replace(frame, data=seg + self.apply(spi, prefix, user))

    def protect_tm(self, frame: TmFrame, spi: int) -> TmFrame:
        """The same frame with SDLS applied to its data field (OCF and FECF untouched)."""
        prefix = _tm_prefix(frame)
        return replace(frame, data=self.apply(spi, prefix, frame.data))

    # -- process --------------------------------------------------------------
    def verify_tc(self, frame: TcFrame, segment_header: bool = True, fecf: bool = True) -> Verdict:
        """ProcessSecurity on a decoded (FECF-checked) TC frame."""
        split = SEGMENT_HEADER_SIZE if segment_header else 0
        seg = frame.data[:split]
        prefix = frame.header(fecf) + seg
        verdict = self.verify(frame.vcid, prefix, frame.data[split:])
        return replace(verdict, data=seg + verdict.data) if verdict.accepted else verdict

    def verify_tm(self, frame: TmFrame) -> Verdict:
        return self.verify(frame.vcid, _tm_prefix(frame), frame.data)

    def verify(self, vcid: int, aad_prefix: bytes, field: bytes) -> Verdict:
        """ProcessSecurity on a frame data field; never raises, the verdict says why."""
        try:
            sa, header, data = self._process(vcid, aad_prefix, field)
        except SecurityRejected as rejected:
            self._flags.add(rejected.reason)
            if rejected.spi is not None:
                self._last_spi = rejected.spi
            return Verdict(False, rejected.reason, rejected.spi, None, b"")
        self._last_spi, self._last_sn = sa.spi, header.arsn()
        return Verdict(True, None, sa.spi, header.arsn(), data)

    def _process(
        self, vcid: int, aad_prefix: bytes, field: bytes
    ) -> tuple[SecurityAssociation, SecurityHeader, bytes]:
        if len(field) < SPI_SIZE:
            raise SecurityRejected(RejectReason.MALFORMED, None, "no room for an SPI")
        spi = int.from_bytes(field[:SPI_SIZE], "big")
        sa = self.associations.get(spi)
        if sa is None or (sa.vcids and vcid not in sa.vcids):
            raise SecurityRejected(RejectReason.BAD_SA, spi, "unknown SPI or SA not on this VC")
        key = self.keyring.get(sa.key_id)
        if sa.state is not SaState.OPERATIONAL or (key is None and sa.mac_len):
            raise SecurityRejected(RejectReason.SA_NOT_OPERATIONAL, spi, sa.state.name)
        header = parse_security_header(field, sa)
        body = field[sa.header_size :]
        aad = aad_prefix + field[: sa.header_size]
        data = self._open(sa, header.iv, aad, body)
        self._check_replay(sa, header.arsn())
        return sa, header, data

    def _check_replay(self, sa: SecurityAssociation, arsn: int) -> None:
        if sa.window and not sa.sequence_number < arsn <= sa.sequence_number + sa.window:
            raise SecurityRejected(
                RejectReason.BAD_SN,
                sa.spi,
                f"ARSN {arsn} not in ({sa.sequence_number}, +{sa.window}]",
            )
        if sa.window or arsn > sa.sequence_number:
            sa.sequence_number = arsn

    # -- crypto -----------------------------------------------------------------
    def _sendable(self, spi: int) -> SecurityAssociation:
        sa = self.associations.get(spi)
        if sa is None:
            raise ProtocolError(f"no security association with SPI {spi}")
        if sa.state is not SaState.OPERATIONAL:
            raise ProtocolError(f"SA {spi} is {sa.state.name}, not operational")
        if sa.mac_len and self.keyring.get(sa.key_id) is None:
            raise ProtocolError(f"SA {spi}: key {sa.key_id} not in the keyring")
        return sa

    def _aesgcm(self, key: bytes) -> AESGCM:
        cipher = self._gcm.get(key)
        if cipher is None:
            cipher = self._gcm[key] = AESGCM(key)
        return cipher

    def _seal(self, sa: SecurityAssociation, iv: bytes, aad: bytes, data: bytes) -> bytes:
        if sa.service is ServiceType.PLAINTEXT:
            return data
        key = self.keyring.get(sa.key_id)
        assert key is not None  # checked by _sendable
        if sa.service is ServiceType.AUTHENTICATED_ENCRYPTION:
            return self._aesgcm(key).encrypt(iv, data, aad)
        return data + compute_mac(sa.mac_algorithm, key, aad + data, sa.mac_len)

    def _open(self, sa: SecurityAssociation, iv: bytes, aad: bytes, body: bytes) -> bytes:
        if sa.service is ServiceType.PLAINTEXT:
            return bytes(body)
        key = self.keyring.get(sa.key_id)
        assert key is not None  # checked by _process
        if sa.service is ServiceType.AUTHENTICATED_ENCRYPTION:
            try:
                return self._aesgcm(key).decrypt(iv, bytes(body), aad)
            except InvalidTag:
                raise SecurityRejected(RejectReason.BAD_MAC, sa.spi, "GCM tag mismatch") from None
        data, mac = body[: len(body) - sa.mac_len], body[len(body) - sa.mac_len :]
        expected = compute_mac(sa.mac_algorithm, key, aad + data, sa.mac_len)
        if not hmac.compare_digest(expected, mac):
            raise SecurityRejected(RejectReason.BAD_MAC, sa.spi, "MAC mismatch")
        return bytes(data)

    # -- Frame Security Report and persistence ------------------------------------
    def fsr(self, reset: bool = True) -> Fsr:
        """The FSR for the next TM frame OCF; flags latch until reported (355.0-B-2 §4.2.4)."""
        flags = self._flags
        report = Fsr(
            alarm=int(bool(flags)),
            bad_sn=int(RejectReason.BAD_SN in flags),
            bad_mac=int(RejectReason.BAD_MAC in flags),
            bad_sa=int(
                bool(
                    flags
                    & {RejectReason.BAD_SA, RejectReason.SA_NOT_OPERATIONAL, RejectReason.MALFORMED}
                )
            ),
            spi=self._last_spi,
            sn_lsb=self._last_sn & 0xFF,
        )
        if reset:
            self._flags = set()
        return report

    def save_sequence_numbers(self, path: Path) -> None:
        save_sequence_numbers(path, self.associations.values())

    def load_sequence_numbers(self, path: Path) -> None:
        load_sequence_numbers(path, self.associations)


def compute_mac(algorithm: MacAlgorithm, key: bytes, message: bytes, length: int) -> bytes:
    """Authentication-only MAC, truncated to ``length`` octets (355.0-B-2 §2.3.2.2)."""
    if algorithm is MacAlgorithm.HMAC_SHA256:
        return hmac.digest(key, message, "sha256")[:length]
    mac = CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()[:length]


def _tm_prefix(frame: TmFrame) -> bytes:
    """TM primary header + secondary header: the octets before the security header."""
    raw = frame.encode(has_fecf=False)
    tail = len(frame.data) + (OCF_SIZE if frame.ocf is not None else 0)
    return raw[: len(raw) - tail] if tail else raw


def save_sequence_numbers(path: Path, associations: Iterable[SecurityAssociation]) -> None:
    """Write {spi: last sequence number} as JSON, atomically (temp file + rename)."""
    state = {str(sa.spi): sa.sequence_number for sa in associations}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(state, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_sequence_numbers(path: Path, associations: Mapping[int, SecurityAssociation]) -> None:
    """Restore sequence numbers saved by :func:`save_sequence_numbers`; missing file = no-op."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise ProtocolError(f"{path}: unreadable sequence number file: {exc}") from exc
    if not isinstance(state, dict):
        raise ProtocolError(f"{path}: expected a JSON object")
    for spi_text, number in state.items():
        sa = associations.get(int(spi_text)) if spi_text.isdigit() else None
        if sa is not None and isinstance(number, int) and number >= 0:
            sa.sequence_number = number
