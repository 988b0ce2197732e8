"""Image archives as `docker save` writes them: built, read back, searched for keys.

The archive is hostile input to the reader (a student republishes it): every way of
breaking it must be a clear ImageError, never a crash or a pass; key material must be
found in every layer, compressed or not, and in every common encoding.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import tarfile
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.range.imagearchive import (
    MAX_MEMBERS,
    ImageError,
    Layer,
    build,
    encodings,
    read,
    secrets_in,
)

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
LAYERS = [
    Layer("ADD rootfs", {"etc/os-release": "ID=debian\n", "opt/gs/VERSION": "2.3.1\n"}),
    Layer("COPY keys/ /etc/labctl/keys/", {"etc/labctl/keys/uplink.key": KEY.hex() + "\n"}),
    Layer("RUN rm /etc/labctl/keys/uplink.key", delete=["etc/labctl/keys/uplink.key"]),
]


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m) or io.BytesIO()).read() for m in tar if m.isfile()}


def repack(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_the_archive_is_what_docker_save_writes_and_the_same_every_time() -> None:
    data = build("ground-station:2.3.1", LAYERS, cmd=["python"])
    assert data == build("ground-station:2.3.1", LAYERS, cmd=["python"])
    files = members(data)
    assert {"manifest.json", "index.json", "oci-layout"} <= files.keys()
    manifest = json.loads(files["manifest.json"])[0]
    assert manifest["RepoTags"] == ["ground-station:2.3.1"]
    for name in [manifest["Config"], *manifest["Layers"]]:
        assert hashlib.sha256(files[name]).hexdigest() == name.removeprefix("blobs/sha256/")
    index = json.loads(files["index.json"])["manifests"][0]
    assert f"blobs/sha256/{index['digest'].removeprefix('sha256:')}" in files


def test_a_whiteout_hides_the_key_from_containers_but_not_from_the_archive() -> None:
    data = build("gs:1", LAYERS)
    image = read(data)
    assert "etc/labctl/keys/uplink.key" not in image.files()
    assert "opt/gs/VERSION" in image.files()
    assert image.history()[1] == "COPY keys/ /etc/labctl/keys/"
    found = secrets_in(data, {"uplink key": KEY})
    assert len(found) == 1
    assert "uplink key (hex)" in found[0]
    assert "etc/labctl/keys/uplink.key" in found[0]


def test_an_image_rebuilt_without_the_key_layer_is_clean() -> None:
    clean = build("gs:1", [LAYERS[0]])
    assert secrets_in(clean, {"uplink key": KEY}) == []
    assert read(clean).files() >= {"opt/gs/VERSION"}


def test_an_opaque_directory_hides_everything_below_it() -> None:
    data = build(
        "gs:1",
        [Layer("a", {"d/x": "1", "d/y": "2", "e": "3"}), Layer("b", {"d/.wh..wh..opq": ""})],
    )
    assert read(data).files() == {"d", "e"}


@pytest.mark.parametrize("how", sorted(encodings(KEY)))
def test_every_encoding_of_the_key_is_found(how: str) -> None:
    form = encodings(KEY)[how]
    data = build("gs:1", [Layer("COPY", {"etc/app.conf": b"key = " + form + b"\n"})])
    found = secrets_in(data, {"k": KEY})
    assert any(f"k ({how})" in line for line in found), found


def test_a_key_in_the_config_or_history_is_found() -> None:
    data = build("gs:1", LAYERS[:1], env=[f"UPLINK_KEY={KEY.hex()}"])
    assert any("k (hex) in blobs/sha256/" in f for f in secrets_in(data, {"k": KEY}))


def test_keys_inside_compressed_files_and_layers_are_found() -> None:
    inner = repack({"keys/uplink.key": KEY.hex().encode()})
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("k.txt", base64.b64encode(KEY))
    data = build(
        "gs:1",
        [Layer("COPY", {"opt/keys.tar.gz": gzip.compress(inner), "opt/k.zip": zipped.getvalue()})],
    )
    found = secrets_in(data, {"k": KEY})
    assert any("opt/keys.tar.gz: keys/uplink.key" in f for f in found), found
    assert any("(base64)" in f and "opt/k.zip: k.txt" in f for f in found), found


def test_a_gzip_compressed_layer_is_read_and_searched() -> None:
    data = build("gs:1", LAYERS)
    files = members(data)
    manifest = json.loads(files["manifest.json"])[0]
    old = manifest["Layers"][1]
    compressed = gzip.compress(files.pop(old), mtime=0)
    manifest["Layers"][1] = f"blobs/sha256/{hashlib.sha256(compressed).hexdigest()}"
    files[manifest["Layers"][1]] = compressed
    files["manifest.json"] = json.dumps([manifest]).encode()
    rebuilt = repack(files)
    assert "etc/labctl/keys/uplink.key" not in read(rebuilt).files()
    assert any("uplink.key" in f for f in secrets_in(rebuilt, {"k": KEY}))


def test_an_edited_layer_no_longer_loads() -> None:
    files = members(build("gs:1", LAYERS))
    manifest = json.loads(files["manifest.json"])[0]
    name = manifest["Layers"][1]
    files[name] = files[name].replace(KEY.hex().encode(), b"0" * 32)
    with pytest.raises(ImageError, match="does not match its digest"):
        read(repack(files))


def test_a_layer_renamed_to_its_digest_must_still_be_its_diff_id() -> None:
    files = members(build("gs:1", LAYERS))
    manifest = json.loads(files["manifest.json"])[0]
    old = manifest["Layers"][1]
    content = files.pop(old).replace(KEY.hex().encode(), b"0" * 32)
    new = f"blobs/sha256/{hashlib.sha256(content).hexdigest()}"
    files[new] = content
    manifest["Layers"][1] = new
    files["manifest.json"] = json.dumps([manifest]).encode()
    with pytest.raises(ImageError, match="does not match its diff_id"):
        read(repack(files))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda f: f.pop("manifest.json"), "manifest.json is missing"),
        (lambda f: f.update({"manifest.json": b"{"}), "not JSON"),
        (lambda f: f.update({"manifest.json": b"[]"}), "exactly one image"),
        (lambda f: f.update({"manifest.json": b'[{"Config": 1}]'}), "needs 'Config'"),
    ],
)
def test_a_broken_manifest_is_a_clear_error(change, problem: str) -> None:  # type: ignore[no-untyped-def]
    files = members(build("gs:1", LAYERS))
    change(files)
    with pytest.raises(ImageError, match=problem):
        read(repack(files))


def test_a_missing_layer_is_named() -> None:
    files = members(build("gs:1", LAYERS))
    manifest = json.loads(files["manifest.json"])[0]
    files.pop(manifest["Layers"][0])
    with pytest.raises(ImageError, match="not in the archive"):
        read(repack(files))


def test_too_many_members_is_refused() -> None:
    many = repack({f"f{i}": b"" for i in range(MAX_MEMBERS + 1)})
    with pytest.raises(ImageError, match="more than"):
        read(many)


def test_a_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from labctl.range import imagearchive

    monkeypatch.setattr(imagearchive, "MAX_EXPANDED_BYTES", 1000)
    data = build("gs:1", [Layer("COPY", {"opt/zeros.gz": gzip.compress(b"\0" * 5000)})])
    found = secrets_in(data, {"k": KEY})
    assert any(
        "cannot search" in f and "opt/zeros.gz" in f and "expands beyond" in f for f in found
    ), found


def test_paths_outside_the_image_are_refused() -> None:
    with pytest.raises(ImageError, match="not a path inside"):
        build("gs:1", [Layer("x", {"../../etc/passwd": "x"})])
    with pytest.raises(ImageError, match="at least one layer"):
        build("gs:1", [])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_an_image_error_never_a_crash(data: bytes) -> None:
    with pytest.raises(ImageError):
        read(data)
    assert isinstance(secrets_in(data, {"k": KEY}), list)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=40_000), st.binary(min_size=1, max_size=64))
def test_a_corrupted_archive_is_an_error_or_still_valid(offset: int, junk: bytes) -> None:
    data = bytearray(build("gs:1", LAYERS))
    offset %= len(data)
    data[offset : offset + len(junk)] = junk
    with contextlib.suppress(ImageError):
        read(bytes(data))
    secrets_in(bytes(data), {"k": KEY})


def test_a_key_compressed_twice_is_found() -> None:
    twice = gzip.compress(gzip.compress(KEY.hex().encode()))
    data = build("gs:1", [Layer("COPY", {"opt/k.gz.gz": twice})])
    assert any("opt/k.gz.gz" in f and "(hex)" in f for f in secrets_in(data, {"k": KEY}))


def test_archives_nested_deeper_than_the_search_goes_are_findings_not_a_pass() -> None:
    inner = KEY.hex().encode()
    for level in range(4):
        inner = gzip.compress(repack({f"level{level}.tar": inner}))
    data = build("gs:1", [Layer("COPY", {"opt/deep.tgz": inner})])
    found = secrets_in(data, {"k": KEY})
    assert any("cannot search" in f and "levels deep" in f for f in found), found
