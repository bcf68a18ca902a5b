#!/bin/sh
# Put an .app on a compressed disk image with a link to /Applications.
#
#     packaging/macos/make_dmg.sh dist/Storyreel.app dist/storyreel-0.1.0-macos-arm64.dmg
#
# create-dmg (brew install create-dmg) when present: icon layout and a drop target;
# otherwise plain hdiutil, which every Mac has.
set -eu
app=$1
dmg=$2
name=Storyreel
[ -d "$app" ] || { echo "make_dmg: no app at $app" >&2; exit 2; }
rm -f "$dmg"

if command -v create-dmg >/dev/null 2>&1; then
    create-dmg \
        --volname "$name" \
        --volicon "$app/Contents/Resources/$(/usr/libexec/PlistBuddy -c 'Print :CFBundleIconFile' "$app/Contents/Info.plist")" \
        --window-size 540 360 \
        --icon-size 96 \
        --icon "$(basename "$app")" 140 170 \
        --app-drop-link 400 170 \
        --hide-extension "$(basename "$app")" \
        --no-internet-enable \
        "$dmg" "$app"
else
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    ditto "$app" "$stage/$(basename "$app")"
    ln -s /Applications "$stage/Applications"
    hdiutil create -volname "$name" -srcfolder "$stage" -fs HFS+ -format UDZO \
        -imagekey zlib-level=9 -ov "$dmg"
fi
if [ -n "${STORYREEL_CODESIGN_IDENTITY:-}" ]; then
    codesign --sign "$STORYREEL_CODESIGN_IDENTITY" --timestamp "$dmg"
fi
echo "make_dmg: $dmg"
