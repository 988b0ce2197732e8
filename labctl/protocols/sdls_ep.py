"""SDLS extended procedures (CCSDS 355.1-B-1): the PDUs that manage security associations.

A PDU is a tag octet (bit 7 type: 0 command, 1 reply; bit 6 user flag; bits 5-4 service
group; bits 3-0 procedure id), a 16-bit length of the data field *in bits*, and the data.
The service groups and procedure ids are the standard's (the same numbers CryptoLib uses).
labctl carries PDUs as the application data of a PUS telecommand (mission service 129,
subtype 1) and replies as telemetry 129,2; see :mod:`labctl.range.hosts.catalog`.

Procedures implemented on the spacecraft: SA management (Start, Stop, Expire, Rekey, Set
ARSN, Set ARSN window, Read ARSN, SA status) and key management (OTAR, Key Activation,
Deactivation, Destruction, Inventory). Every PDU read from the network is hostile:
:func:`decode` bounds and checks every field and raises ProtocolError, nothing else.

Over-the-air rekeying (OTAR) carries one new session key (AES-128) encrypted and
authenticated under a master key the spacecraft holds: the data field is the master key
id (2 octets), a 12-octet IV, the AES-GCM ciphertext of (new key id, 2 octets; key, 16
octets) and the 16-octet tag, with the master key id as additional data. :func:`seal_otar`
builds it (a flight director's tool), :func:`open_otar` checks and opens it (on board).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from labctl.errors import ProtocolError

HEADER: Final = struct.Struct(">BH")
#: Longest data field accepted (the SA management PDUs here carry a few octets).
MAX_DATA: Final = 256


class ServiceGroup(IntEnum):
    KEY_MANAGEMENT = 0b00
    SA_MANAGEMENT = 0b01
    MONITORING_CONTROL = 0b11


class SaProcedure(IntEnum):
    """Procedure ids of the SA management service group (355.1-B-1 §3.4)."""

    READ_ARSN = 0b0000
    CREATE = 0b0001
    DELETE = 0b0100
    SET_ARSNW = 0b0101
    REKEY = 0b0110
    EXPIRE = 0b1001
    SET_ARSN = 0b1010
    START = 0b1011
    STOP = 0b1110
    STATUS = 0b1111


class KeyProcedure(IntEnum):
    """Procedure ids of the key management service group (355.1-B-1 §3.3; CryptoLib's)."""

    OTAR = 0b0001
    ACTIVATION = 0b0010
    DEACTIVATION = 0b0011
    VERIFICATION = 0b0100
    DESTRUCTION = 0b0110
    INVENTORY = 0b0111


#: Key states as a Key Inventory reply codes them (one octet per key).
KEY_STATE_CODES: Final = {"pre-active": 1, "active": 2, "deactivated": 3, "destroyed": 4}

#: OTAR: the session key's length (AES-128, as the labs' SAs), IV and tag lengths.
OTAR_KEY_SIZE: Final = 16
OTAR_IV_SIZE: Final = 12
OTAR_TAG_SIZE: Final = 16
#: The encrypted block: key id (2 octets) and the key.
OTAR_BLOCK_SIZE: Final = 2 + OTAR_KEY_SIZE
OTAR_SIZE: Final = 2 + OTAR_IV_SIZE + OTAR_BLOCK_SIZE + OTAR_TAG_SIZE


@dataclass(frozen=True)
class Otar:
    """One OTAR PDU's data field, split (nothing decrypted yet)."""

    master_key_id: int
    iv: bytes
    ciphertext: bytes
    tag: bytes

    def encode(self) -> bytes:
        return struct.pack(">H", self.master_key_id) + self.iv + self.ciphertext + self.tag

    @classmethod
    def decode(cls, data: bytes) -> Otar:
        if len(data) != OTAR_SIZE:
            raise ProtocolError(f"an OTAR data field is {OTAR_SIZE} octets, not {len(data)}")
        (master,) = struct.unpack_from(">H", data)
        iv_end = 2 + OTAR_IV_SIZE
        block_end = iv_end + OTAR_BLOCK_SIZE
        return cls(master, data[2:iv_end], data[iv_end:block_end], data[block_end:])


def seal_otar(master_key: bytes, master_key_id: int, key_id: int, key: bytes, iv: bytes) -> Otar:
    """The OTAR for ``key`` (id ``key_id``) under the master key. ``iv`` must never repeat
    under one master key (12 random octets: ``os.urandom(12)``)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(key) != OTAR_KEY_SIZE:
        raise ProtocolError(f"OTAR carries a {OTAR_KEY_SIZE}-octet key, not {len(key)}")
    if len(iv) != OTAR_IV_SIZE:
        raise ProtocolError(f"the OTAR IV is {OTAR_IV_SIZE} octets, not {len(iv)}")
    if not (0 <= key_id <= 0xFFFF and 0 <= master_key_id <= 0xFFFF):
        raise ProtocolError("key ids are 16-bit")
    aad = struct.pack(">H", master_key_id)
    sealed = AESGCM(master_key).encrypt(iv, struct.pack(">H", key_id) + key, aad)
    return Otar(master_key_id, iv, sealed[:-OTAR_TAG_SIZE], sealed[-OTAR_TAG_SIZE:])


def open_otar(otar: Otar, master_key: bytes) -> tuple[int, bytes]:
    """(new key id, key) from an OTAR under ``master_key``; ProtocolError when it was not
    sealed under that key or was changed on the way."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aad = struct.pack(">H", otar.master_key_id)
    try:
        block = AESGCM(master_key).decrypt(otar.iv, otar.ciphertext + otar.tag, aad)
    except (InvalidTag, ValueError):
        raise ProtocolError("the OTAR does not authenticate under the master key") from None
    (key_id,) = struct.unpack_from(">H", block)
    return key_id, block[2:]


#: Key Verification: the ground's challenge, and the reply (key id, IV, the challenge
#: encrypted under the key, tag).
CHALLENGE_SIZE: Final = 16
VERIFY_REPLY_SIZE: Final = 2 + OTAR_IV_SIZE + CHALLENGE_SIZE + OTAR_TAG_SIZE
#: Bound into the verification's authentication, so a reply is never a valid OTAR block.
_VERIFY_CONTEXT: Final = b"labctl-sdls-key-verification"


def answer_challenge(key: bytes, key_id: int, challenge: bytes, iv: bytes) -> bytes:
    """Key Verification on board: the reply data that proves holding key ``key_id``
    without showing it (the challenge encrypted and authenticated under the key)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(challenge) != CHALLENGE_SIZE or len(iv) != OTAR_IV_SIZE:
        raise ProtocolError(f"a challenge is {CHALLENGE_SIZE} octets and its IV {OTAR_IV_SIZE}")
    head = struct.pack(">H", key_id)
    return head + iv + AESGCM(key).encrypt(iv, challenge, _VERIFY_CONTEXT + head)


def check_answer(reply: bytes, key: bytes, key_id: int, challenge: bytes) -> bool:
    """Key Verification on the ground: does ``reply`` prove that the spacecraft's key
    ``key_id`` is ``key``, for this ``challenge``? False for any other reply."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(reply) != VERIFY_REPLY_SIZE or struct.unpack_from(">H", reply)[0] != key_id:
        return False
    iv, sealed = reply[2 : 2 + OTAR_IV_SIZE], reply[2 + OTAR_IV_SIZE :]
    try:
        opened = AESGCM(key).decrypt(iv, sealed, _VERIFY_CONTEXT + reply[:2])
    except (InvalidTag, ValueError):
        return False
    return opened == challenge


@dataclass(frozen=True)
class EpPdu:
    """One extended-procedure PDU."""

    group: int
    procedure: int
    data: bytes = b""
    reply: bool = False
    user: bool = False

    def encode(self) -> bytes:
        if not 0 <= self.group <= 3 or not 0 <= self.procedure <= 15:
            raise ProtocolError(f"service group {self.group} / procedure {self.procedure}")
        if len(self.data) > MAX_DATA:
            raise ProtocolError(f"PDU data of {len(self.data)} octets; at most {MAX_DATA}")
        tag = (self.reply << 7) | (self.user << 6) | (self.group << 4) | self.procedure
        return HEADER.pack(tag, len(self.data) * 8) + self.data

    @property
    def tag(self) -> tuple[int, int]:
        return self.group, self.procedure


def decode(raw: bytes) -> EpPdu:
    """Parse one PDU that fills ``raw`` exactly. Raises ProtocolError on anything else."""
    if len(raw) < HEADER.size:
        raise ProtocolError(f"SDLS EP PDU of {len(raw)} octets; the header needs 3")
    tag, bits = HEADER.unpack_from(raw)
    if bits % 8:
        raise ProtocolError(f"SDLS EP PDU length of {bits} bits is not whole octets")
    data = raw[HEADER.size :]
    if bits // 8 != len(data) or len(data) > MAX_DATA:
        raise ProtocolError(f"SDLS EP PDU says {bits // 8} data octets, carries {len(data)}")
    return EpPdu(
        group=(tag >> 4) & 0b11,
        procedure=tag & 0b1111,
        data=data,
        reply=bool(tag & 0x80),
        user=bool(tag & 0x40),
    )
