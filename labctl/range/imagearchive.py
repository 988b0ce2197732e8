"""Container image archives, as ``docker save`` writes them, built and read without Docker.

An image is a stack of layers, each a tar of the files one build step added or changed.
A later step that deletes a file does not remove it: its layer holds a *whiteout*
(``.wh.<name>``) that hides the file in the running container, while the bytes stay in
the earlier layer of every copy of the image. That is how keys end up "in images".

:func:`build` writes an archive in the layout ``docker save`` has written since Docker 25
(an OCI image layout, ``oci-layout``, ``index.json`` and ``blobs/sha256/``, plus the
``manifest.json`` that ``docker load`` reads), byte for byte the same for the same
input. :func:`read` takes one apart as hostile input: bounded sizes and counts, every
digest checked, and :func:`secrets_in` searches every layer, config and compressed file
inside it for key material, in the encodings a key is written in.

    archive = build("ground-station:2.3", [Layer("COPY keys/", {"etc/k": "00ff\\n"}),
                                           Layer("RUN rm /etc/k", delete=("etc/k",))])
    image = read(archive)              # Image: layers, config, the file system it yields
    image.files()                      # {} : the whiteout hides etc/k ...
    secrets_in(archive, {"key": bytes.fromhex("00ff")})   # ... but it is still there
"""

from __future__ import annotations

import base64
import bz2
import hashlib
import io
import json
import lzma
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

#: Archives larger than this are not read (what the engine copies out at most, too).
MAX_ARCHIVE_BYTES: Final = 64 * 1024 * 1024
#: What decompressing the members of one archive may produce in all.
MAX_EXPANDED_BYTES: Final = 256 * 1024 * 1024
MAX_MEMBERS: Final = 20_000
MAX_LAYERS: Final = 64
#: Levels :func:`secrets_in` opens (an archive, or a decompression, is a level: a gzip
#: file in a layer of the image is level 3, a tar in it level 4); anything still closed
#: below is a finding ("cannot search"), never a silent pass.
MAX_DEPTH: Final = 6
GZIP_MAGIC: Final = b"\x1f\x8b"
BZIP2_MAGIC: Final = b"BZh"
XZ_MAGIC: Final = b"\xfd7zXZ\x00"
ZIP_MAGIC: Final = b"PK\x03\x04"
WHITEOUT: Final = ".wh."
OPAQUE: Final = ".wh..wh..opq"
DEFAULT_CREATED: Final = "2026-03-02T09:14:00Z"

MANIFEST_TYPE: Final = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE: Final = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE: Final = "application/vnd.oci.image.layer.v1.tar"
INDEX_TYPE: Final = "application/vnd.oci.image.index.v1+json"


class ImageError(ValueError):
    """The archive is not an image ``docker load`` would take: the message says why."""


@dataclass(frozen=True)
class Layer:
    """One build step: what it wrote (path → text) and what it deleted (whiteouts)."""

    created_by: str
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    delete: Sequence[str] = ()


@dataclass(frozen=True)
class Image:
    """An archive taken apart: its name(s), config and layers (path → member, in order)."""

    tags: tuple[str, ...]
    config: dict[str, Any]
    layers: tuple[dict[str, tarfile.TarInfo], ...]

    def history(self) -> list[str]:
        return [str(h.get("created_by", "")) for h in self.config.get("history") or []]

    def files(self) -> set[str]:
        """The paths a container of this image sees: layers applied in order, whiteouts
        (``.wh.name``) and opaque directories (``.wh..wh..opq``) hiding what is below."""
        seen: set[str] = set()
        for layer in self.layers:
            for path in layer:
                parent, name = posixpath.split(path)
                if name == OPAQUE:
                    seen = {p for p in seen if not p.startswith(f"{parent}/")}
                elif name.startswith(WHITEOUT):
                    hidden = posixpath.join(parent, name[len(WHITEOUT) :])
                    seen = {p for p in seen if p != hidden and not p.startswith(f"{hidden}/")}
            seen |= {p for p in layer if not posixpath.basename(p).startswith(WHITEOUT)}
        return seen


# --- writing ------------------------------------------------------------------------------


def build(
    name: str,
    layers: Sequence[Layer],
    *,
    env: Sequence[str] = (),
    cmd: Sequence[str] = (),
    created: str = DEFAULT_CREATED,
    architecture: str = "amd64",
) -> bytes:
    """The archive of an image made of ``layers``, tagged ``name`` (``repo:tag``)."""
    if not layers:
        raise ImageError("an image needs at least one layer")
    when = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    layer_digests = [blob(_layer_tar(layer, when)) for layer in layers]
    config = {
        "architecture": architecture,
        "os": "linux",
        "created": created,
        "config": {"Env": list(env), "Cmd": list(cmd)},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in layer_digests]},
        "history": [{"created": created, "created_by": layer.created_by} for layer in layers],
    }
    config_digest = blob(_json(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": _descriptor(CONFIG_TYPE, config_digest, blobs),
        "layers": [_descriptor(LAYER_TYPE, d, blobs) for d in layer_digests],
    }
    manifest_digest = blob(_json(manifest))
    repository, _, tag = name.rpartition(":")
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [
            {
                **_descriptor(MANIFEST_TYPE, manifest_digest, blobs),
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": tag or "latest",
                },
            }
        ],
    }
    legacy = [
        {
            "Config": f"blobs/sha256/{config_digest}",
            "RepoTags": [name if repository else f"{name}:latest"],
            "Layers": [f"blobs/sha256/{d}" for d in layer_digests],
        }
    ]
    members: dict[str, bytes | None] = {"blobs/": None, "blobs/sha256/": None}
    members |= {f"blobs/sha256/{d}": data for d, data in sorted(blobs.items())}
    members |= {
        "index.json": _json(index),
        "manifest.json": _json(legacy),
        "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
    }
    return _tar(members, when)


def _layer_tar(layer: Layer, when: int) -> bytes:
    members: dict[str, bytes | None] = {}
    for path, content in layer.files.items():
        clean = _relative(path)
        parts = clean.split("/")
        for depth in range(1, len(parts)):
            members.setdefault("/".join(parts[:depth]) + "/", None)
        members[clean] = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    for path in layer.delete:
        parent, base = posixpath.split(_relative(path))
        members[posixpath.join(parent, f"{WHITEOUT}{base}")] = b""
    return _tar(members, when)


def _relative(path: str) -> str:
    clean = posixpath.normpath(path.strip("/"))
    if clean in ("", ".") or clean.startswith("..") or "\x00" in clean:
        raise ImageError(f"not a path inside the image: {path!r}")
    return clean


def _tar(members: Mapping[str, bytes | None], when: int) -> bytes:
    """A tar of ``members`` (``None``: a directory) with fixed times and owners."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime, info.uname, info.gname = when, "", ""
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _descriptor(media_type: str, digest: str, blobs: Mapping[str, bytes]) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(blobs[digest])}


# --- reading ------------------------------------------------------------------------------


def read(data: bytes) -> Image:
    """Take an archive apart and check it the way ``docker load`` would: ``manifest.json``
    names a config and layers that are in the archive, each blob's name is its digest,
    and each layer's digest is the config's ``diff_id`` for it. Raises ImageError."""
    members = _members(data, "the archive")
    manifest = _json_member(members, "manifest.json")
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        raise ImageError("manifest.json must list exactly one image")
    entry = manifest[0]
    config_name, layer_names = entry.get("Config"), entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list):
        raise ImageError("manifest.json: the image needs 'Config' and 'Layers'")
    if not 1 <= len(layer_names) <= MAX_LAYERS:
        raise ImageError(f"manifest.json: {len(layer_names)} layers (1 to {MAX_LAYERS})")
    config = _json_member(members, config_name)
    if not isinstance(config, dict):
        raise ImageError(f"{config_name}: the config is not a JSON object")
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") if isinstance(config, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layer_names):
        raise ImageError(f"{config_name}: rootfs.diff_ids does not list one digest per layer")
    for name, content in members.items():
        if (
            name.startswith("blobs/sha256/")
            and content is not None
            and hashlib.sha256(content).hexdigest() != name.removeprefix("blobs/sha256/")
        ):
            raise ImageError(f"{name}: its content does not match its digest (edited?)")
    layers = []
    for name, diff_id in zip(layer_names, diff_ids, strict=True):
        content = members.get(name) if isinstance(name, str) else None
        if content is None:
            raise ImageError(f"manifest.json names layer {name!r}, which is not in the archive")
        plain = _expanded(content, name, [0])
        if f"sha256:{hashlib.sha256(plain).hexdigest()}" != diff_id:
            raise ImageError(f"{name}: the layer does not match its diff_id in {config_name}")
        layers.append(dict(_infos(plain, name)))
    tags = tuple(str(t) for t in entry.get("RepoTags") or [] if isinstance(t, str))
    return Image(tags, config, tuple(layers))


def _members(data: bytes, where: str) -> dict[str, bytes | None]:
    """Regular files (name → bytes) and directories (name → None) of a tar."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ImageError(f"{where} is larger than {MAX_ARCHIVE_BYTES} octets")
    found: dict[str, bytes | None] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_MEMBERS:
                    raise ImageError(f"{where} has more than {MAX_MEMBERS} members")
                name = member.name.removeprefix("./").rstrip("/")
                if member.isfile():
                    handle = tar.extractfile(member)
                    found[name] = handle.read() if handle is not None else b""
                elif member.isdir():
                    found[name] = None
    except (tarfile.TarError, EOFError) as exc:
        raise ImageError(f"{where} is not a tar archive: {exc}") from None
    return found


def _infos(data: bytes, where: str) -> Iterator[tuple[str, tarfile.TarInfo]]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_MEMBERS:
                    raise ImageError(f"{where} has more than {MAX_MEMBERS} members")
                yield member.name.removeprefix("./").rstrip("/"), member
    except (tarfile.TarError, EOFError) as exc:
        raise ImageError(f"{where} is not a tar archive: {exc}") from None


def _json_member(members: Mapping[str, bytes | None], name: str) -> Any:
    content = members.get(name)
    if content is None:
        raise ImageError(f"{name} is missing from the archive")
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{name} is not JSON: {exc}") from None


def _expanded(data: bytes, where: str, budget: list[int]) -> bytes:
    """``data`` decompressed when it is gzip, bzip2 or xz (else as it is), counting what
    decompression produced against :data:`MAX_EXPANDED_BYTES` in ``budget``."""
    if data[:2] == GZIP_MAGIC:
        decoder: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif data[:3] == BZIP2_MAGIC:
        decoder = bz2.BZ2Decompressor()
    elif data[:6] == XZ_MAGIC:
        decoder = lzma.LZMADecompressor()
    else:
        return data
    room = MAX_EXPANDED_BYTES - budget[0]
    try:
        out = decoder.decompress(data, room + 1) if room >= 0 else b""
    except (zlib.error, OSError, lzma.LZMAError, EOFError) as exc:
        raise ImageError(f"{where} does not decompress: {exc}") from None
    budget[0] += len(out)
    if budget[0] > MAX_EXPANDED_BYTES:
        raise ImageError(f"{where}: decompressing expands beyond {MAX_EXPANDED_BYTES} octets")
    return bytes(out)


# --- searching ----------------------------------------------------------------------------


def encodings(secret: bytes) -> dict[str, bytes]:
    """The ways a key is written down: raw, hex (both cases, with spaces or colons), Base64."""
    hexed = secret.hex()
    forms = {
        "raw": secret,
        "hex": hexed.encode(),
        "HEX": hexed.upper().encode(),
        "hex with spaces": " ".join(secret.hex(" ").split()).encode(),
        "hex with colons": secret.hex(":").encode(),
        "base64": base64.b64encode(secret).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(secret).rstrip(b"="),
    }
    return {how: form for how, form in forms.items() if form}


def secrets_in(data: bytes, secrets: Mapping[str, bytes]) -> list[str]:
    """Where each secret appears in an archive, in any of its :func:`encodings`: the
    archive's own bytes (its plain layers, config and history), and inside every
    compressed or archived member, :data:`MAX_DEPTH` levels down (deeper ones are
    findings too: "cannot search").
    One line per finding, e.g. ``"uplink key (hex) in blobs/sha256/ab12…: etc/k"``."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ImageError(f"the archive is larger than {MAX_ARCHIVE_BYTES} octets")
    forms = [
        (label, how, form) for label, s in secrets.items() for how, form in encodings(s).items()
    ]
    findings: list[str] = []
    _search(data, "the archive", forms, findings, depth=0, budget=[0])
    return findings


def _search(
    data: bytes,
    where: str,
    forms: list[tuple[str, str, bytes]],
    findings: list[str],
    *,
    depth: int,
    budget: list[int],
) -> None:
    if depth > MAX_DEPTH:  # fail closed: what cannot be opened is a finding, not a pass
        findings += [f"{label} ({how}) in {where}" for label, how, form in forms if form in data]
        if _compressed(data) or _is_tar(data) or data[:4] == ZIP_MAGIC:
            findings.append(f"cannot search {where}: nested more than {MAX_DEPTH} levels deep")
        return
    if _compressed(data):
        try:
            expanded = _expanded(data, where, budget)
        except ImageError as exc:
            findings.append(f"cannot search {where}: {exc}")
            return
        _search(expanded, where, forms, findings, depth=depth + 1, budget=budget)
        return
    members = _safe_members(data) or _zip_members(data, where, budget)
    if members is None:
        findings += [f"{label} ({how}) in {where}" for label, how, form in forms if form in data]
        return
    before = len(findings)
    for name, content in members.items():
        if content is not None:
            inner = f"{where}: {name}" if depth else name
            _search(content, inner, forms, findings, depth=depth + 1, budget=budget)
    # what no member holds may still be in the archive's names and headers
    found = " ".join(findings[before:])
    findings += [
        f"{label} ({how}) in {where} (a name or header)"
        for label, how, form in forms
        if form in data and f"{label} ({how})" not in found
    ]


def _compressed(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC or data[:3] == BZIP2_MAGIC or data[:6] == XZ_MAGIC


def _is_tar(data: bytes) -> bool:
    return len(data) >= 512 and data[257:262] == b"ustar"


def _zip_members(data: bytes, where: str, budget: list[int]) -> dict[str, bytes | None] | None:
    """The files of ``data`` when it is a zip archive (bounded like decompression)."""
    if data[:4] != ZIP_MAGIC:
        return None
    found: dict[str, bytes | None] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for count, info in enumerate(archive.infolist()):
                if count >= MAX_MEMBERS or budget[0] + info.file_size > MAX_EXPANDED_BYTES:
                    raise ImageError(f"{where}: the zip archive expands beyond the limits")
                with archive.open(info) as handle:
                    content = handle.read(info.file_size + 1)
                budget[0] += len(content)
                found[info.filename] = None if info.is_dir() else content
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError):
        return None
    return found


def _safe_members(data: bytes) -> dict[str, bytes | None] | None:
    """The members of ``data`` when it is a tar archive; None when it is not one."""
    if not _is_tar(data):
        return None
    try:
        return _members(data, "a tar")
    except ImageError:
        return None
