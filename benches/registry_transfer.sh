#!/usr/bin/env bash
# Registry transfer benchmark: our `registry_push` / `registry_pull` examples against
# `skopeo copy`, in the same run, against the same local docker-registry (loopback only).
#
#   bash benches/registry_transfer.sh            # 1 GiB single layer + 16 layers of 64 MiB
#   SIZE_MIB=256 bash benches/registry_transfer.sh   # smaller, for a quick look
#   MODE=copy bash benches/registry_transfer.sh      # only the registry-to-registry copies
#   MODE=index bash benches/registry_transfer.sh     # only the two-platform index pull
#
# The copy part: `registry_copy` against `skopeo copy docker:// docker://` from one local
# registry to another (fresh per tool) for the 16-layer image, then the repeat copy into
# another repository of that destination, which both tools should turn into mounts from the
# blob locations they remember (ours in $XDG_CACHE_HOME/harbor-sdk, here a fresh directory).
# The index part: a two-platform index (linux/amd64 and linux/arm64, each half the size in
# half the layers) pulled whole into an OCI layout: `registry_pull --all-platforms` against
# `skopeo copy --all docker:// oci:`.
#
# The floor is plain curl moving the same single blob (POST + streamed PATCH + PUT; one GET),
# and for the copy, curl streaming every blob of the image from one registry to the other.
# Images use gzip layers (stored deflate blocks, so skopeo does not recompress them).
# Every push goes to a fresh, empty registry (so neither tool can skip or mount blobs); both
# pulls read the same repository. Wall time and peak RSS come from `/usr/bin/time -v`.
# Our RSS is also measured on a 4x smaller image to show it stays flat as blobs grow.
# Needs: docker-registry, skopeo, /usr/bin/time, python3. Not part of `cargo test`.
set -euo pipefail

SIZE_MIB="${SIZE_MIB:-1024}"
LAYERS="${LAYERS:-16}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
MODE="${MODE:-all}"
REG_PID=""
DST_PID=""
cleanup() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
  if [ -n "$DST_PID" ]; then kill "$DST_PID" 2>/dev/null || true; wait "$DST_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

for t in docker-registry skopeo python3 curl; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not on PATH" >&2; exit 0; }
done
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time not installed" >&2; exit 0; }

echo "building the examples (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p harbor-examples --bin registry_push --bin registry_pull --bin registry_copy)
BIN="$ROOT/target/release"

# make_layout DIR TOTAL_MIB NLAYERS [PLATFORMS]: an OCI layout, tag v1, NLAYERS gzip layers of
# random data (TOTAL_MIB in all); with PLATFORMS 2, v1 is an index of linux/amd64 and
# linux/arm64, each with half the layers.
make_layout() {
  python3 - "$1" "$2" "$3" "${4:-1}" <<'PY'
import hashlib, json, os, sys, zlib
root, total_mib, n, platforms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
blobs = os.path.join(root, "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data); return d, len(data)
def layer(size_bytes):
    tmp = os.path.join(root, "layer.tmp"); h = hashlib.sha256(); size = 0
    comp = zlib.compressobj(0, zlib.DEFLATED, 31)  # gzip container, stored blocks
    with open(tmp, "wb") as f, open("/dev/urandom", "rb") as rnd:
        left = size_bytes
        while left:
            chunk = rnd.read(min(left, 8 << 20)); left -= len(chunk)
            out = comp.compress(chunk); h.update(out); f.write(out); size += len(out)
        out = comp.flush(); h.update(out); f.write(out); size += len(out)
    d = h.hexdigest(); os.rename(tmp, os.path.join(blobs, d))
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + d, "size": size}
def manifest(os_, arch, count):
    layers = [layer(total_mib * 1024 * 1024 // n) for _ in range(count)]
    cfg = json.dumps({"architecture": arch, "os": os_, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    cd, cs = put(cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": cs},
        "layers": layers}).encode()
    md, ms = put(man)
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md, "size": ms,
        "platform": {"os": os_, "architecture": arch}}
if platforms == 1:
    top = manifest("linux", "amd64", n)
    del top["platform"]
else:
    entries = [manifest("linux", arch, n // 2) for arch in ("amd64", "arm64")]
    xd, xs = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries}).encode())
    top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + xd, "size": xs}
top["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
json.dump({"schemaVersion": 2, "manifests": [top]}, open(os.path.join(root, "index.json"), "w"))
open(os.path.join(root, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
}

# launch_registry DIR: a fresh registry storing in DIR; sets LAUNCHED_PID and LAUNCHED_PORT.
launch_registry() {
  local dir="$1"; rm -rf "$dir"; mkdir -p "$dir"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/storage}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: bench-secret-not-a-credential}
EOF
  docker-registry serve "$dir/config.yml" 2>"$dir/log" &
  LAUNCHED_PID=$!
  LAUNCHED_PORT=$port
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "registry did not start" >&2; cat "$dir/log" >&2; exit 1
}
start_registry() {
  stop_registry
  launch_registry "$WORK/registry"
  REG_PID=$LAUNCHED_PID PORT=$LAUNCHED_PORT
}
start_destination() {
  stop_destination
  launch_registry "$WORK/destination"
  DST_PID=$LAUNCHED_PID DST_PORT=$LAUNCHED_PORT
}
stop_destination() {
  if [ -n "$DST_PID" ]; then kill "$DST_PID" 2>/dev/null || true; wait "$DST_PID" 2>/dev/null || true; DST_PID=""; fi
}
stop_registry() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID=""; fi
}

# floor_blob DIGEST: curl moves one blob from $FLOOR_SRC's bench/img to $FLOOR_DST's floor/img.
floor_blob() {
  local loc loc2 sep
  loc=$(curl -sf -X POST -D - -o /dev/null "$FLOOR_DST/v2/floor/img/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  loc2=$(curl -sf "$FLOOR_SRC/v2/bench/img/blobs/$1" |
    curl -sf -X PATCH -H "Content-Type: application/octet-stream" -T - -D - -o /dev/null "$loc" |
    tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  case "$loc2" in *\?*) sep="&" ;; *) sep="?" ;; esac
  curl -sf -X PUT -o /dev/null "${loc2}${sep}digest=$1"
}
export -f floor_blob

# measure LABEL CMD...: prints "LABEL wall_s rss_mib"
measure() {
  local label="$1"; shift
  local log="$WORK/time.log"
  sync
  if ! /usr/bin/time -v "$@" >"$WORK/out.log" 2>"$log"; then
    echo "FAILED: $label" >&2; cat "$WORK/out.log" "$log" >&2; exit 1
  fi
  local wall rss
  wall="$(grep 'Elapsed (wall clock)' "$log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')"
  rss="$(grep 'Maximum resident set size' "$log" | awk '{printf "%.1f", $NF/1024}')"
  printf '%-34s %8.2f s %8.1f MiB\n' "$label" "$wall" "$rss"
  echo "$label $wall $rss" >>"$WORK/results"
}

: >"$WORK/results"
run_image() {
  local name="$1" mib="$2" n="$3" layout="$WORK/$1"
  echo "== $name: $n layer(s), $mib MiB total ==" >&2
  make_layout "$layout" "$mib" "$n"
  # Push: each tool into a fresh, empty registry.
  start_registry
  measure "$name push ours" "$BIN/registry_push" "$layout" "127.0.0.1:$PORT/bench/img:v1"
  start_registry
  measure "$name push skopeo" skopeo --insecure-policy copy -q --dest-tls-verify=false \
    "oci:$layout:v1" "docker://127.0.0.1:$PORT/bench/img:v1"
  # Pull: both from the repository skopeo just pushed.
  rm -rf "$WORK/pull-ours" "$WORK/pull-skopeo"
  measure "$name pull ours" "$BIN/registry_pull" "127.0.0.1:$PORT/bench/img:v1" "$WORK/pull-ours"
  measure "$name pull skopeo" skopeo --insecure-policy copy -q --src-tls-verify=false \
    "docker://127.0.0.1:$PORT/bench/img:v1" "oci:$WORK/pull-skopeo:v1"
  if [ "$n" = 1 ]; then
    # The floor: curl moving the one layer blob, no manifest work, no verification.
    local blob
    blob="$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/index.json"))["manifests"][0]["digest"].split(":")[1]; print(json.load(open(sys.argv[1]+"/blobs/sha256/"+m))["layers"][0]["digest"])' "$layout")"
    measure "$name pull floor (curl)" curl -sf -o "$WORK/pull-floor" "http://127.0.0.1:$PORT/v2/bench/img/blobs/$blob"
    rm -f "$WORK/pull-floor"
    start_registry
    measure "$name push floor (curl)" bash -c '
      loc=$(curl -sf -X POST -D - -o /dev/null "http://127.0.0.1:'"$PORT"'/v2/bench/floor/blobs/uploads/" | tr -d "\r" | awk "tolower(\$1)==\"location:\" {print \$2}")
      loc2=$(curl -sf -X PATCH -H "Content-Type: application/octet-stream" -T "$1" -D - -o /dev/null "$loc" | tr -d "\r" | awk "tolower(\$1)==\"location:\" {print \$2}")
      case "$loc2" in *\?*) sep="&";; *) sep="?";; esac
      curl -sf -X PUT -o /dev/null "${loc2}${sep}digest=$2"' _ "$layout/blobs/sha256/${blob#sha256:}" "$blob"
  fi
  rm -rf "$layout" "$WORK/pull-ours" "$WORK/pull-skopeo"
  stop_registry
}

# run_copy NAME MIB N: registry to registry, then the repeat copy into another repository.
run_copy() {
  local name="$1" mib="$2" n="$3" layout="$WORK/$1"
  echo "== $name copy: $n layer(s), $mib MiB total ==" >&2
  make_layout "$layout" "$mib" "$n"
  start_registry
  skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$layout:v1" "docker://127.0.0.1:$PORT/bench/img:v1"
  rm -rf "$layout"
  local src="127.0.0.1:$PORT/bench/img:v1" src_host="127.0.0.1:$PORT"
  start_destination
  export XDG_CACHE_HOME="$WORK/cache-ours"
  measure "$name copy ours" "$BIN/registry_copy" "$src" "127.0.0.1:$DST_PORT/first/img:v1"
  measure "$name repeat copy ours" "$BIN/registry_copy" "$src" "127.0.0.1:$DST_PORT/second/img:v1"
  # The floor: curl streaming each blob from source to destination (a GET piped into one
  # PATCH, then the PUT), four at a time, no manifest work and no verification.
  start_destination
  export FLOOR_SRC="http://$src_host" FLOOR_DST="http://127.0.0.1:$DST_PORT"
  measure "$name copy floor (curl)" bash -c '
    curl -sf -H "Accept: application/vnd.oci.image.manifest.v1+json" "$FLOOR_SRC/v2/bench/img/manifests/v1" |
      python3 -c "import json, sys; m = json.load(sys.stdin); print(*[m[\"config\"][\"digest\"]] + [l[\"digest\"] for l in m[\"layers\"]], sep=\"\n\")" |
      xargs -P 4 -n 1 bash -c "floor_blob \"\$1\"" _'
  start_destination
  measure "$name copy skopeo" skopeo --insecure-policy copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$src" "docker://127.0.0.1:$DST_PORT/first/img:v1"
  measure "$name repeat copy skopeo" skopeo --insecure-policy copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$src" "docker://127.0.0.1:$DST_PORT/second/img:v1"
  stop_destination
  stop_registry
}

# run_index NAME MIB N: a two-platform index pulled whole into a layout.
run_index() {
  local name="$1" mib="$2" n="$3" layout="$WORK/$1"
  echo "== $name: two platforms, $n layer(s), $mib MiB total ==" >&2
  make_layout "$layout" "$mib" "$n" 2
  start_registry
  skopeo --insecure-policy copy -q --all --dest-tls-verify=false "oci:$layout:v1" "docker://127.0.0.1:$PORT/bench/multi:v1"
  rm -rf "$layout" "$WORK/pull-ours" "$WORK/pull-skopeo"
  measure "$name index pull ours" "$BIN/registry_pull" --all-platforms "127.0.0.1:$PORT/bench/multi:v1" "$WORK/pull-ours"
  measure "$name index pull skopeo" skopeo --insecure-policy copy -q --all --src-tls-verify=false \
    "docker://127.0.0.1:$PORT/bench/multi:v1" "oci:$WORK/pull-skopeo:v1"
  # Both layouts hold the same index and the same blobs.
  python3 - "$WORK/pull-ours" "$WORK/pull-skopeo" <<'PY'
import os, sys
a, b = (sorted(os.listdir(os.path.join(d, "blobs", "sha256"))) for d in sys.argv[1:])
if a != b:
    sys.exit(f"the layouts differ: {len(a)} blobs against {len(b)}")
PY
  rm -rf "$WORK/pull-ours" "$WORK/pull-skopeo"
  stop_registry
}

if [ "$MODE" = all ]; then
  run_image "single-${SIZE_MIB}MiB" "$SIZE_MIB" 1
  run_image "${LAYERS}-layers" "$SIZE_MIB" "$LAYERS"
  run_image "single-$((SIZE_MIB / 4))MiB" "$((SIZE_MIB / 4))" 1
fi
if [ "$MODE" = all ] || [ "$MODE" = copy ]; then
  run_copy "${LAYERS}-layers" "$SIZE_MIB" "$LAYERS"
fi
if [ "$MODE" = all ] || [ "$MODE" = index ]; then
  run_index "two-platform" "$((SIZE_MIB / 2))" "$LAYERS"
fi

echo
echo "ratios (ours / skopeo; target wall <= 0.6, RSS <= 1.0; repeat copy wall <= 2.0):"
python3 - "$WORK/results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    label, wall, rss = " ".join(parts[:-2]), float(parts[-2]), float(parts[-1])
    rows[label] = (wall, rss)
for label in rows:
    if label.endswith(" ours"):
        base = label[: -len(" ours")]
        o, s = rows[label], rows.get(base + " skopeo")
        if s:
            print(f"  {base:<28} wall {o[0] / s[0]:.2f}x   rss {o[1] / s[1]:.2f}x   ({o[0]:.2f}s/{s[0]:.2f}s, {o[1]:.1f}/{s[1]:.1f} MiB)")
PY
