#!/bin/sh
# Refresh the browser libraries Ionto serves itself (no CDN): install the versions pinned in
# package-lock.json with `npm ci` and copy their built files under scheduling/static/vendor/.
# Run it after changing the version in package.json (then `npm install --package-lock-only`);
# commit the copied files. A fresh clone needs neither node nor this script.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target="$here/../../scheduling/static/vendor/event-calendar"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund)
built="$work/node_modules/@event-calendar/build"
version=$(node -p "require('$built/package.json').version")
mkdir -p "$target"
# The source map is left out; the comment that names it is kept as published.
cp "$built/dist/event-calendar.min.js" "$built/dist/event-calendar.min.css" "$target/"
printf '@event-calendar/build %s (MIT), https://github.com/vkurko/calendar\n' "$version" > "$target/VERSION"
cp "$here/LICENSE-event-calendar" "$target/LICENSE"
echo "EventCalendar $version copied to $target"
