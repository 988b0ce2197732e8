"""Running the portal: its folder under ``$LABCTL_HOME/portal`` (the cookie-signing secret,
the self-signed certificate, the graded reports), TLS, and uvicorn.

TLS is the default: the instructor's certificate and key, or a self-signed one made on
first start (ECDSA P-256, for the host names and addresses given, valid a year) whose
SHA-256 fingerprint is printed so students can check it. Plain HTTP only with
``--insecure-http``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labctl.errors import InputError

CERT_FILE: Final = "portal-cert.pem"
KEY_FILE: Final = "portal-key.pem"
SECRET_FILE: Final = "cookie-secret"


def portal_dir(state_file: Path) -> Path:
    """``<folder of the state file>/portal``, made private on first use."""
    folder = state_file.parent / "portal"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def cookie_secret(folder: Path) -> str:
    """The secret that signs session cookies: kept, so a restart logs nobody out."""
    path = folder / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    fingerprint: str
    made: bool


def fingerprint(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def tls_files(folder: Path, cert: Path | None, key: Path | None, names: list[str]) -> Tls:
    """The instructor's certificate, or the portal's self-signed one (made if missing)."""
    if (cert is None) != (key is None):
        raise InputError("give both --tls-cert and --tls-key, or neither (a self-signed one)")
    if cert is not None and key is not None:
        for path in (cert, key):
            if not path.is_file():
                raise InputError(f"{path}: no such file")
        try:
            return Tls(cert, key, fingerprint(cert.read_bytes()), made=False)
        except ValueError as exc:
            raise InputError(f"{cert}: not a PEM certificate ({exc})") from None
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    made = False
    if not cert_path.exists() or not key_path.exists():
        _self_signed(cert_path, key_path, names)
        made = True
    return Tls(cert_path, key_path, fingerprint(cert_path.read_bytes()), made)


def _self_signed(cert_path: Path, key_path: Path, names: list[str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labctl portal")])
    alt: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def host_names(bind: str) -> list[str]:
    """The names a certificate should carry for ``bind``: the machine's name, its
    addresses, localhost."""
    names = ["localhost", "127.0.0.1", socket.gethostname()]
    if bind not in {"0.0.0.0", "::", ""}:
        names.append(bind)
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.append(str(info[4][0]))
    except OSError:
        pass
    return [n for n in dict.fromkeys(names) if n]
