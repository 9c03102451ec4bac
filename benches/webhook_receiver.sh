#!/usr/bin/env bash
# Webhook receiver benchmark: `wrk` against harbor-receiver's `Receiver` on loopback, with the
# memory inbox and with the SQLite inbox (durable: a group-committed, fsynced write before each
# 200), against the peer users write today: a Go net/http endpoint (benches/receiver/main.go,
# standard library only) that decodes into Harbor-shaped structs and hands off to a bounded
# channel (not durable). Same machine, same run, same payloads.
#
#   bash benches/webhook_receiver.sh                       # 3 rounds of 10 s per target
#   ROUNDS=1 DURATION=5 bash benches/webhook_receiver.sh   # a quick look
#
# Load: wrk, 2 threads, 64 connections, keep-alive, each request a distinct Harbor 2.x
# "Default" PUSH_ARTIFACT payload (the shape of a real delivery: 370-odd bytes, a new tag per
# request, so that no request is a duplicate of another), with the auth header. Every server
# checks the header, decodes, stores or queues, answers 200; a worker drains the queue.
# The SQLite file lives in $BENCH_DIR (default target/bench-receiver, on the disk the
# repository is on, never a tmpfs), and the machine's fsync cost is measured there.
# Reported: requests/s, p99 latency and the server's CPU time per request per target (median
# of the rounds), ratios against Go, and how many deliveries shared each sync of the log.
# Where /dev/shm is a tmpfs, one more target runs the same SQLite inbox with its file there
# (sqlite-tmpfs): its fsync costs nothing, so it shows the code's speed when the flush is free,
# what a disk with a cheap flush (NVMe with power-loss protection) approaches. It is not
# durable against power loss and is not the target the issue sets; it tells the code's cost
# from the disk's.
# For the Rust targets also the p99 of appends as the server saw them (from the call to the
# durable answer): the inbox's own latency, without the time wrk and the server wait for one
# of the 2 CPUs they share.
# Needs: wrk, go (standard library only, no modules), python3. Not part of `cargo test`.
set -euo pipefail

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
# The worker's concurrency (the handler does nothing, as the Go peer's consumer goroutine):
# room for this many deliveries at once, taken from the inbox in one request and
# acknowledged in one. A delivery holds its place until its acknowledgement is committed, a
# few commits after its append, so with SQLite 64 places are too few for a commit's worth to
# be leased as it is appended (3.0 KB written per request instead of 2.3, p99 23 ms instead
# of 18). The report says how many the worker acknowledged: it keeps up.
WORKERS="${WORKERS:-128}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-$ROOT/target/bench-receiver}"
TMPFS_DIR=""
if [ "$(df -T /dev/shm 2>/dev/null | awk 'NR==2 {print $2}')" = tmpfs ]; then
  TMPFS_DIR="/dev/shm/harbor-bench-receiver-$$"
fi
WORK="$(mktemp -d)"
SERVER_PID=""
AUTH="Bearer bench-secret-not-a-credential"
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
  if [ -n "$TMPFS_DIR" ]; then rm -rf "$TMPFS_DIR"; fi
}
trap cleanup EXIT

for t in wrk go python3; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not on PATH" >&2; exit 0; }
done
mkdir -p "$BENCH_DIR"

echo "building the receiver (release) and the Go peer..." >&2
(cd "$ROOT" && cargo build --release -q -p harbor-benches --bin webhook_receiver_bench)
RUST_BIN="$ROOT/target/release/webhook_receiver_bench"
cp "$ROOT/benches/receiver/main.go" "$WORK/main.go"
(cd "$WORK" && GO111MODULE=off GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" go build -o go-receiver main.go)
GO_BIN="$WORK/go-receiver"

# One distinct payload per request: wrk's Lua builds it from the thread id and a counter.
cat >"$WORK/post.lua" <<LUA
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
local head = '{"type":"PUSH_ARTIFACT","occur_at":1737446601,"operator":"admin","event_data":{"resources":[{"digest":"sha256:76525f02955aec223342400a080c73024c995c9db1ba2eabf7505cf3bdf3f1f0","tag":"'
local middle = '","resource_url":"harbor.example.com/library/webapp:'
local tail = '"}],"repository":{"date_created":1737446600,"name":"webapp","namespace":"library","repo_full_name":"library/webapp","repo_type":"private"}}}'
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "$AUTH" }
function request()
  n = n + 1
  local tag = "v" .. tid .. "." .. n
  return wrk.format("POST", "/webhook", headers, head .. tag .. middle .. tag .. tail)
end
LUA

# start NAME CMD...: starts a server, waits for "listening on http://ADDR", sets URL.
start() {
  local name="$1"; shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SERVER_PID=$!
  for _ in $(seq 200); do
    URL="$(sed -n 's/^listening on \(http:\/\/.*\)$/\1/p' "$WORK/$name.out")"
    [ -n "$URL" ] && return 0
    sleep 0.05
  done
  echo "$name did not start" >&2; cat "$WORK/$name.err" >&2; exit 1
}
stop() {
  kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}
# appends NAME: the server's own append latencies ("append: n=.. p50=.. p99=.. p99.9=..").
appends() {
  grep '^append:' "$WORK/$1.err" >&2 || true
  sed -n "s/^append: .* p99=\([0-9.]*\) .*/append $1 \1/p" "$WORK/$1.err" >>"$WORK/results"
}

: >"$WORK/results"
# The server's CPU time so far, in clock ticks (user + system).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
# The bytes the server has written through write(2) and friends so far (its log, its
# checkpoints and its HTTP answers).
written() { awk '/^wchar/ {print $2}' "/proc/$SERVER_PID/io"; }

# measure NAME: warm up, then one measured wrk run; appends
# "NAME rps p99_ms non2xx cpu_us_per_request".
measure() {
  local name="$1" before after wrote
  wrk -t2 -c"$CONNECTIONS" -d2s -s "$WORK/post.lua" "$URL/webhook" >/dev/null
  before="$(cpu_ticks)"; wrote="$(written)"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$URL/webhook" >"$WORK/wrk.out"
  after="$(cpu_ticks)"; wrote="$(( $(written) - wrote ))"
  python3 - "$name" "$WORK/wrk.out" "$((after - before))" "$(getconf CLK_TCK)" "$DURATION" "$wrote" >>"$WORK/results" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
ticks, hz, duration, wrote = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors:.*", text)
cpu_us = ticks / hz / (rps * duration) * 1e6
print(name, rps, p99, int(bad.group(1)) if bad else 0, cpu_us, wrote / (rps * duration), "errors" if errors else "")
PY
  tail -1 "$WORK/results" >&2
}

for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS ==" >&2
  start go "$GO_BIN" -addr 127.0.0.1:0 -auth "$AUTH"
  measure go; stop
  start memory "$RUST_BIN" --inbox memory --workers "$WORKERS" --auth-header "$AUTH"
  measure memory; stop; appends memory; grep '^worker:' "$WORK/memory.err" >&2 || true
  rm -f "$BENCH_DIR"/inbox.db*
  start sqlite "$RUST_BIN" --inbox "sqlite:$BENCH_DIR/inbox.db" --workers "$WORKERS" --auth-header "$AUTH"
  measure sqlite; stop; appends sqlite; grep -E '^(sqlite|worker):' "$WORK/sqlite.err" >&2 || true
  rm -f "$BENCH_DIR"/inbox.db*
  start sqlite-4 "$RUST_BIN" --inbox "sqlite:$BENCH_DIR/inbox.db" --files 4 --workers "$WORKERS" --auth-header "$AUTH"
  measure sqlite-4; stop; appends sqlite-4; grep -E '^(sqlite|worker):' "$WORK/sqlite-4.err" >&2 || true
  if [ -n "$TMPFS_DIR" ]; then
    rm -rf "$TMPFS_DIR"; mkdir -p "$TMPFS_DIR"
    start sqlite-tmpfs "$RUST_BIN" --inbox "sqlite:$TMPFS_DIR/inbox.db" --workers "$WORKERS" --auth-header "$AUTH"
    measure sqlite-tmpfs; stop; appends sqlite-tmpfs; grep -E '^(sqlite|worker):' "$WORK/sqlite-tmpfs.err" >&2 || true
    rm -rf "$TMPFS_DIR"
  fi
done
rm -f "$BENCH_DIR"/inbox.db*

# The machine's fsync cost, where the SQLite file was: 4 KiB written then fsynced, 200 times.
python3 - "$BENCH_DIR" >>"$WORK/results" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
samples = []
for _ in range(200):
    start = time.perf_counter()
    os.write(fd, b"x" * 4096)
    os.fsync(fd)
    samples.append(time.perf_counter() - start)
os.close(fd); os.unlink(path)
samples.sort()
print("fsync", samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.99)] * 1000)
PY

echo
python3 - "$WORK/results" "$CONNECTIONS" "$(df -T "$BENCH_DIR" | awk 'NR==2 {print $2}')" <<'PY'
import os, statistics, sys
runs, fsync, appends = {}, None, {}
for line in open(sys.argv[1]):
    parts = line.split()
    if parts[0] == "fsync":
        fsync = (float(parts[1]), float(parts[2]))
        continue
    if parts[0] == "append":
        appends.setdefault(parts[1], []).append(float(parts[2]))
        continue
    runs.setdefault(parts[0], []).append((float(parts[1]), float(parts[2]), int(parts[3]), float(parts[4]), float(parts[5]), len(parts) > 6))
print(f"wrk, {sys.argv[2]} connections, distinct 2.x payloads; median of {len(runs['go'])} round(s)")
print("(vs Go: the median of each round's ratio to the Go peer measured in the same round)")
print(f"{'target':<12} {'req/s':>8} {'p99 ms':>8} {'vs Go':>7} {'CPU us/req':>11} {'B written/req':>14} {'append p99':>11}  non-2xx")
for name in ("go", "memory", "sqlite", "sqlite-4", "sqlite-tmpfs"):
    if name not in runs:
        continue
    rps = statistics.median(r[0] for r in runs[name])
    ratio = statistics.median(r[0] / g[0] for r, g in zip(runs[name], runs["go"]))
    p99 = statistics.median(r[1] for r in runs[name])
    cpu = statistics.median(r[3] for r in runs[name])
    wrote = statistics.median(r[4] for r in runs[name])
    bad = sum(r[2] for r in runs[name])
    append = f"{statistics.median(appends[name]):.1f}" if name in appends else "-"
    print(f"{name:<12} {rps:>8.0f} {p99:>8.2f} {ratio:>6.2f}x {cpu:>11.1f} {wrote:>14.0f} {append:>11}  {bad}{' (socket errors)' if any(r[5] for r in runs[name]) else ''}")
print(f"fsync of 4 KiB on {sys.argv[3]}: median {fsync[0]:.2f} ms, p99 {fsync[1]:.2f} ms")
print(f"{os.cpu_count()} CPUs; load average at the end: {os.getloadavg()[0]:.1f} (wrk runs on the same CPUs)")
print("append p99: ms, appends as the server saw them (call to durable answer), without wrk's share")
print("targets: memory >= 1.5x Go; sqlite >= 1.0x Go with p99 <= 10 ms")
print("(sqlite: the default, one file; sqlite-4: SqliteInbox::builder(..).files(4))")
if "sqlite-tmpfs" in runs:
    print("(sqlite-tmpfs: sqlite with its file on a tmpfs, where fsync costs nothing: the code's")
    print(" speed when the flush is free; not durable against power loss, not a target)")
PY
