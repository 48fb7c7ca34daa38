"""Write a one-layer container image as a `docker save` tarball, without a registry or a container engine.

The tarball holds `manifest.json`, the image config (`<sha256>.json`) and one layer (`<sha256>/layer.tar`); every
entry is owned by 0:0 with mtime 0 and the entries are sorted, so the same inputs give the same bytes.
`ctr images import` unpacks it into containerd, which is how tests/node loads pause and podinfo. Standard library
only: scripts/build-node-binaries runs it with the system python3.

    python3 tests/node/dockerimage.py --out podinfo.tar --tag localhost/podinfo:6.9.2 --workdir /home/app \\
        --entrypoint ./podinfo --user 65534:65534 --add bin/podinfo=/home/app/podinfo --dir /tmp:1777
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImageSpec:
    """What goes into the image: files (host path -> image path), extra directories and the runtime config."""

    tag: str
    files: list[tuple[Path, str]] = field(default_factory=list)
    dirs: list[tuple[str, int]] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    env: list[str] = field(
        default_factory=lambda: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    )
    exposed: list[str] = field(default_factory=list)


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def layer_bytes(spec: ImageSpec) -> bytes:
    """The layer tar: every file and directory of `spec`, with each parent directory, sorted by path."""
    entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

    def add_dir(path: str, mode: int = 0o755) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            name = "/".join(parts[:i])
            if name and name not in entries:
                entries[name] = (_info(name, tarfile.DIRTYPE, mode if i == len(parts) else 0o755), None)

    def add_file(src: Path, dest: str) -> None:
        name = dest.strip("/")
        if "/" in name:
            add_dir(os.path.dirname(name))
        data = src.read_bytes()
        # Executable bits follow the source; nothing in the image is writable by group or others.
        mode = 0o755 if os.access(src, os.X_OK) else 0o644
        entries[name] = (_info(name, tarfile.REGTYPE, mode, len(data)), data)

    for path, mode in spec.dirs:
        add_dir(path, mode)
    for src, dest in spec.files:
        if src.is_dir():
            add_dir(dest)
            for sub in sorted(src.rglob("*")):
                target = dest.rstrip("/") + "/" + sub.relative_to(src).as_posix()
                if sub.is_dir():
                    add_dir(target)
                elif sub.is_file():
                    add_file(sub, target)
        elif src.is_file():
            add_file(src, dest)
        else:
            raise FileNotFoundError(f"{src}: no such file or directory to put at {dest}")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(entries):
            info, data = entries[name]
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def image_bytes(spec: ImageSpec) -> bytes:
    """The whole `docker save` tarball for `spec`."""
    layer = layer_bytes(spec)
    diff_id = hashlib.sha256(layer).hexdigest()
    runtime: dict[str, object] = {"Env": spec.env}
    if spec.entrypoint:
        runtime["Entrypoint"] = spec.entrypoint
    if spec.cmd:
        runtime["Cmd"] = spec.cmd
    if spec.user:
        runtime["User"] = spec.user
    if spec.workdir:
        runtime["WorkingDir"] = spec.workdir
    if spec.exposed:
        runtime["ExposedPorts"] = {port: {} for port in spec.exposed}
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tests/node/dockerimage.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = f"{diff_id}/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [spec.tag], "Layers": [layer_name]}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_info(diff_id, tarfile.DIRTYPE, 0o755))
        for name, data in ((layer_name, layer), (config_name, config_bytes), ("manifest.json", manifest)):
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return buf.getvalue()


def write_image(spec: ImageSpec, out: Path) -> Path:
    """Write the tarball for `spec` to `out` atomically (a partial file never has the final name)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(image_bytes(spec))
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: build one image tarball."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--tag", required=True, help="image reference, e.g. localhost/pause:3.10.1")
    parser.add_argument("--add", action="append", default=[], help="HOST_PATH=IMAGE_PATH (a file or a directory)")
    parser.add_argument("--dir", action="append", default=[], help="IMAGE_PATH[:OCTAL_MODE], an empty directory")
    parser.add_argument("--entrypoint", action="append", default=[])
    parser.add_argument("--cmd", action="append", default=[])
    parser.add_argument("--user", default="")
    parser.add_argument("--workdir", default="")
    parser.add_argument("--expose", action="append", default=[], help="PORT/PROTO")
    args = parser.parse_args(argv)
    spec = ImageSpec(
        tag=args.tag,
        entrypoint=args.entrypoint,
        cmd=args.cmd,
        user=args.user,
        workdir=args.workdir,
        exposed=args.expose,
    )
    for item in args.add:
        src, sep, dest = item.partition("=")
        if not sep or not dest.startswith("/"):
            parser.error(f"--add {item}: expected HOST_PATH=/IMAGE_PATH")
        spec.files.append((Path(src), dest))
    for item in args.dir:
        path, _, mode = item.partition(":")
        spec.dirs.append((path, int(mode, 8) if mode else 0o755))
    if spec.workdir:
        spec.dirs.append((spec.workdir, 0o755))
    try:
        write_image(spec, args.out)
    except OSError as err:
        print(f"dockerimage: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
