"""The image tarballs the node imports: `docker save` layout, owned by root, timeless, byte-for-byte reproducible."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.fields import present
from tests.node.dockerimage import ImageSpec, image_bytes


def _spec(tmp_path: Path) -> ImageSpec:
    binary = tmp_path / "app"
    binary.write_bytes(b"\x7fELF fake")
    binary.chmod(0o755)
    ui = tmp_path / "ui"
    ui.mkdir(exist_ok=True)
    (ui / "index.html").write_text("<html></html>")
    return ImageSpec(
        tag="localhost/app:1.0",
        files=[(binary, "/home/app/app"), (ui, "/home/app/ui")],
        dirs=[("/tmp", 0o1777)],
        entrypoint=["./app"],
        user="65534:65534",
        workdir="/home/app",
    )


def test_image_tarball_is_reproducible_and_owned_by_root(tmp_path: Path) -> None:
    """Two builds give the same bytes; every entry of the tarball and of its layer is 0:0 with mtime 0."""
    first, second = image_bytes(_spec(tmp_path)), image_bytes(_spec(tmp_path))
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as outer:
        manifest = json.loads(present(outer.extractfile("manifest.json")).read())
        assert manifest[0]["RepoTags"] == ["localhost/app:1.0"]
        config = json.loads(present(outer.extractfile(manifest[0]["Config"])).read())
        assert config["config"]["Entrypoint"] == ["./app"]
        assert config["config"]["User"] == "65534:65534"
        with tarfile.open(fileobj=outer.extractfile(manifest[0]["Layers"][0])) as layer:
            members = {m.name: m for m in layer.getmembers()}
            entries = [*outer.getmembers(), *layer.getmembers()]
    assert sorted(members) == ["home", "home/app", "home/app/app", "home/app/ui", "home/app/ui/index.html", "tmp"]
    assert members["home/app/app"].mode == 0o755
    assert members["tmp"].mode == 0o1777
    for member in entries:
        assert (member.uid, member.gid, member.mtime) == (0, 0, 0), member.name
