#!/bin/sh
# Build the macOS artefacts with one command, from anywhere:
#
#     packaging/macos/build.sh
#
# Needs: Python 3.12 (python3.12 on PATH, or PYTHON=/path/to/python3) and the Xcode
# command line tools (hdiutil, codesign); create-dmg (brew install create-dmg) is used
# when present for a nicer window. Makes, in dist/:
#   Storyreel.app                               the app (PyInstaller BUNDLE, storyreel.spec)
#   storyreel-<version>-macos-<arch>.dmg         the disk image: drag Storyreel to Applications
# The .app is built for this Mac's architecture (arm64 on Apple silicon, x86_64 on Intel);
# the release workflow builds both. Signing: set STORYREEL_CODESIGN_IDENTITY to a
# "Developer ID Application: ..." identity (the spec signs with it); notarising is then
#   xcrun notarytool submit dist/storyreel-*.dmg --keychain-profile <profile> --wait
#   xcrun stapler staple dist/storyreel-*.dmg
set -eu
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3.12}
VENV=.venv-package

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet . -r packaging/pyinstaller/requirements.txt

started=$(date +%s)
rm -rf dist/storyreel dist/Storyreel.app
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/pyinstaller/storyreel.spec
dist/Storyreel.app/Contents/MacOS/storyreel --version

version=$("$VENV/bin/python" -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
dmg="dist/storyreel-$version-macos-$(uname -m).dmg"
packaging/macos/make_dmg.sh dist/Storyreel.app "$dmg"

echo "app      dist/Storyreel.app  $(du -sh dist/Storyreel.app | cut -f1)"
echo "dmg      $dmg  $(du -h "$dmg" | cut -f1)"
echo "time     $(( $(date +%s) - started )) s"
