#!/usr/bin/env bash
# Vendors the NHS.UK frontend's compiled styles at a pinned version:
#   functions/pages/vendor/update.sh 10.6.1
# Takes the package from the npm registry, keeps its minified CSS (image
# URLs rewritten to be relative, so the pages serve them under their own
# path) and the icons it names, and records the version. Fonts are left to
# the CSS's own fallbacks (Arial): the pages' CSP loads nothing from
# another origin.
set -euo pipefail
version=${1:?the nhsuk-frontend version to vendor}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "nhsuk-frontend@$version" >/dev/null && tar xzf "nhsuk-frontend-$version.tgz")
out="$here/nhsuk-frontend"
rm -rf "$out" && mkdir -p "$out/images"
sed 's#url(/assets/images/#url(images/#g' "$work/package/dist/nhsuk/nhsuk-frontend.min.css" >"$out/nhsuk-frontend.min.css"
for icon in $(grep -o 'url(images/[^)]*)' "$out/nhsuk-frontend.min.css" | sed 's#url(images/##; s#)##' | sort -u); do
  cp "$work/package/dist/nhsuk/assets/images/$icon" "$out/images/$icon"
done
echo "$version" >"$out/VERSION"
cat >"$out/LICENCE.md" <<LICENCE
nhsuk-frontend $version (https://github.com/nhsuk/nhsuk-frontend), from the
npm registry. Its README: "The codebase is released under the MIT Licence,
unless stated otherwise." The MIT Licence:

Copyright (c) NHS England

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LICENCE
echo "vendored nhsuk-frontend $version into $out"
