"""Make the Linux artefacts from the PyInstaller folder: a .deb and a .tar.gz.

    python3 packaging/linux/build_deb.py [--bundle dist/storyreel] [--out dist]

The .deb installs the folder as /opt/storyreel (executable /opt/storyreel/storyreel),
links /usr/bin/storyreel to it, and adds the menu entry (storyreel.desktop: "Open
with Storyreel" for text/plain, text/markdown and text/x-fountain), the Fountain
MIME type (storyreel-mime.xml), and the icon in hicolor (SVG plus PNGs rendered by
packaging/icons.py). It recommends ffmpeg when the bundle carries none (the mp4
export then uses the system's). Its Depends are worked out from the libraries the bundle's
binaries link to and do not carry themselves (dpkg -S on this machine, with a table
for those not installed here). Built with `dpkg-deb --root-owner-group`: no fakeroot.

The .tar.gz holds the same folder as storyreel-<version>/ (unpack, run ./storyreel).
The version is pyproject.toml's. Prints the size of each artefact.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ICON_SIZES = (48, 128, 256)
ELF_MAGIC = b"\x7fELF"

# Libraries a kept Qt plugin may want that are optional: without them Qt uses another
# plugin (GTK theme -> Fusion). They are not made dependencies.
OPTIONAL_SONAMES = {"libgtk-3.so.0", "libgdk-3.so.0"}
# Debian package of sonames the build machine may not have installed.
KNOWN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}
# The C library and the toolchain's runtime are always there; versioned below.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"]


def architecture() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def elf_files(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == ELF_MAGIC:
                    found.append(path)
    return found


def needed_sonames(files: list[Path]) -> tuple[set[str], str]:
    """Sonames the binaries link to, and the newest GLIBC_ symbol version they use."""
    sonames: set[str] = set()
    glibc = (2, 17)
    for path in files:
        dynamic = subprocess.run(["readelf", "-dW", str(path)], capture_output=True,
                                 text=True).stdout
        sonames.update(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        symbols = subprocess.run(["readelf", "-VW", str(path)], capture_output=True,
                                 text=True).stdout
        for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", symbols):
            glibc = max(glibc, (int(major), int(minor)))
    return sonames, f"{glibc[0]}.{glibc[1]}"


def _system_paths() -> dict[str, str]:
    cache = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
    paths: dict[str, str] = {}
    for soname, path in re.findall(r"^\s+(\S+) \(libc6,x86-64[^)]*\) => (\S+)$", cache, re.M):
        paths.setdefault(soname, path)
    return paths


def _owner(path: str) -> str | None:
    candidates = {path, os.path.realpath(path)}
    for candidate in list(candidates):  # merged /usr: dpkg may know either spelling
        if candidate.startswith("/usr/lib/"):
            candidates.add(candidate[len("/usr"):])
        elif candidate.startswith("/lib/"):
            candidates.add("/usr" + candidate)
    for candidate in sorted(candidates):
        found = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if found.returncode == 0:
            return found.stdout.split(":", 1)[0].strip()
    return None


def depends(bundle: Path) -> str:
    files = elf_files(bundle)
    carried = {path.name for path in bundle.rglob("*")}
    sonames, glibc = needed_sonames(files)
    outside = sorted(s for s in sonames - carried - OPTIONAL_SONAMES
                     if not s.startswith("ld-linux"))
    system = _system_paths()
    packages: set[str] = set()
    unknown: list[str] = []
    for soname in outside:
        package = _owner(system[soname]) if soname in system else None
        package = package or KNOWN_PACKAGES.get(soname)
        if package is None:
            unknown.append(soname)
        else:
            packages.add(package)
    if unknown:
        print(f"build_deb: warning: no package known for {', '.join(unknown)}",
              file=sys.stderr)
    packages -= BASE_PACKAGES
    return ", ".join([f"libc6 (>= {glibc})", *sorted(packages)])


def stage(bundle: Path, root: Path, icons: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(bundle, root / "opt" / "storyreel", symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "storyreel").symlink_to("/opt/storyreel/storyreel")
    share = root / "usr" / "share"
    _install(HERE / "storyreel.desktop", share / "applications" / "storyreel.desktop")
    _install(HERE / "storyreel-mime.xml", share / "mime" / "packages" / "storyreel.xml")
    _install(ROOT / "resources" / "icons" / "storyreel.svg",
             share / "icons" / "hicolor" / "scalable" / "apps" / "storyreel.svg")
    for size in ICON_SIZES:
        _install(icons / f"storyreel-{size}.png",
                 share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "storyreel.png")
    doc = share / "doc" / "storyreel"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Storyreel: proprietary. Bundled third-party components (Python, Qt for Python"
        " (LGPLv3), Pillow, and others) keep their own licences; see\n"
        "/opt/storyreel/_internal/*.dist-info and PySide6/ for their texts.\n",
        encoding="utf-8")
    for folder in root.rglob("*"):  # a predictable tree whatever the umask
        if folder.is_dir() and not folder.is_symlink():
            folder.chmod(0o755)


def _install(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o644)


def control(root: Path, bundle: Path) -> None:
    debian = root / "DEBIAN"
    debian.mkdir()
    size_kib = sum(p.lstat().st_size for p in root.rglob("*") if not p.is_dir()) // 1024
    recommends = ["fonts-dejavu-core | fonts-freefont-ttf", "shared-mime-info",
                  "desktop-file-utils"]
    if not any(bundle.glob("_internal/imageio_ffmpeg/binaries/ffmpeg*")):
        recommends.append("ffmpeg")  # the mp4 export finds the system's on PATH
    (debian / "control").write_text(f"""\
Package: storyreel
Version: {version()}
Architecture: {architecture()}
Maintainer: Storyreel <storyreel@localhost>
Installed-Size: {size_kib}
Depends: {depends(bundle)}
Recommends: {", ".join(recommends)}
Suggests: libgtk-3-0
Section: graphics
Priority: optional
Description: turn an idea into a storyboard
 Storyreel turns an idea into a script, the script into scenes, every scene
 into shots and every shot into an image. It runs offline on its built-in
 draft writer and renderer, or on RunPod GPUs with Cloudflare R2 and MongoDB
 when configured. A self-contained build: it carries its own Python and Qt.
""", encoding="utf-8")
    for script in ("postinst", "postrm"):
        shutil.copyfile(HERE / script, debian / script)
        (debian / script).chmod(0o755)


def build_tar(bundle: Path, out: Path) -> Path:
    target = out / f"storyreel-{version()}-linux-{os.uname().machine}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=f"storyreel-{version()}",
                    filter=lambda info: _owned_by_root(info))
    return target


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "storyreel")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "deb")
    parser.add_argument("--icons", type=Path, default=ROOT / "build" / "icons")
    args = parser.parse_args()
    if not (args.bundle / "storyreel").is_file():
        parser.error(f"no bundle at {args.bundle}: run PyInstaller first (make package)")
    if not (args.icons / "storyreel-256.png").is_file():
        subprocess.run([sys.executable, str(ROOT / "packaging" / "icons.py"), str(args.icons)],
                       check=True)
    root = args.work / "root"
    stage(args.bundle, root, args.icons)
    control(root, args.bundle)
    args.out.mkdir(parents=True, exist_ok=True)
    deb = args.out / f"storyreel_{version()}_{architecture()}.deb"
    # xz -9 --extreme: one 192 MiB block (the whole bundle) instead of 24 MiB ones, 1 MiB
    # (2.5 %) smaller than the default -6; slower to build (minutes), as fast to install.
    command = ["dpkg-deb", "--root-owner-group", "-Zxz", "-z9", "-Sextreme", "--build",
               str(root), str(deb)]
    if "--threads-max" in subprocess.run(["dpkg-deb", "--help"], capture_output=True,
                                         text=True).stdout:  # dpkg >= 1.21.9
        command.insert(1, f"--threads-max={os.cpu_count() or 1}")
    # xz for the .deb and gzip for the .tar.gz at once: each takes about a minute here.
    packing = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    tar = build_tar(args.bundle, args.out)
    if packing.wait() != 0:
        raise SystemExit(f"build_deb: dpkg-deb failed ({packing.returncode})")
    bundle_mib = sum(p.lstat().st_size for p in args.bundle.rglob("*") if not p.is_dir())
    print(f"bundle   {args.bundle}  {bundle_mib / 2**20:.0f} MiB")
    for artefact in (deb, tar):
        label = "deb" if artefact.suffix == ".deb" else "tar.gz"
        print(f"{label:<8} {artefact}  {artefact.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
