#!/usr/bin/env bash
# A throwaway FerretDB (MongoDB wire protocol over SQLite) for the Mongo adapter tests.
#
#   eval "$(scripts/ferretdb.sh start)"   # exports MONGODB_URL, FERRETDB_PID, FERRETDB_DIR
#   npm test -- libs/read-models
#   scripts/ferretdb.sh stop              # uses FERRETDB_PID and FERRETDB_DIR
#
# stdout carries only `export KEY=value` lines; progress and build output go to stderr.
set -euo pipefail

FERRETDB_VERSION=v1.24.2
FERRETDB_MODULE=github.com/FerretDB/FerretDB
START_TIMEOUT_S=30
CACHE_DIR="${FERRETDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferretdb-$FERRETDB_VERSION}"

log() { echo "ferretdb.sh: $*" >&2; }

# A binary counts only if it runs and is the pinned version: `go install` of this
# release yields one that panics at start-up (its build/version/version.txt is not in
# the module), and 2.x dropped the SQLite handler.
usable() {
  local version
  [[ -x "$1" ]] || return 1
  # Captured first: `grep -q` closing the pipe early would fail the pipeline under pipefail.
  version="$("$1" --version 2>/dev/null)" || return 1
  grep -qx "version: $FERRETDB_VERSION" <<<"$version"
}

gopath_bin() {
  if command -v go >/dev/null 2>&1; then echo "$(go env GOPATH)/bin/ferretdb"; fi
}

# Builds from the module source with the version file written in, as FerretDB's own build does.
build() {
  command -v go >/dev/null 2>&1 || { log "Go is needed to build FerretDB"; return 1; }
  log "building FerretDB $FERRETDB_VERSION into $CACHE_DIR (about a minute on a cold module cache)"
  local module_dir src
  module_dir="$(go mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -d "$module_dir" ]] || { log "go mod download gave no source directory"; return 1; }
  src="$(mktemp -d -t ferretdb-src.XXXXXX)"
  cp -R "$module_dir/." "$src"
  chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  mkdir -p "$CACHE_DIR"
  (cd "$src" && GOFLAGS=-buildvcs=false go build -o "$CACHE_DIR/ferretdb" ./cmd/ferretdb) >&2
  rm -rf "$src"
}

find_or_build() {
  local candidate
  for candidate in "$(command -v ferretdb || true)" "$(gopath_bin)" "$CACHE_DIR/ferretdb"; do
    if [[ -n "$candidate" ]] && usable "$candidate"; then echo "$candidate"; return 0; fi
  done
  build
  usable "$CACHE_DIR/ferretdb" || { log "the FerretDB build does not run"; return 1; }
  echo "$CACHE_DIR/ferretdb"
}

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

wait_for_port() {
  local port="$1" pid="$2" deadline=$((SECONDS + START_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

start() {
  local bin port dir pid
  bin="$(find_or_build)"
  port="$(free_port)"
  dir="$(mktemp -d -t ferretdb.XXXXXX)"
  mkdir -p "$dir/data"
  # Detached from our stdout, so `$(...)` returns as soon as this script exits; no debug
  # HTTP listener (its fixed default port would clash between instances).
  setsid "$bin" --handler=sqlite --sqlite-url="file:$dir/data/" --listen-addr="127.0.0.1:$port" \
    --state-dir="$dir" --debug-addr=- --telemetry=disable --log-level=WARN \
    </dev/null >"$dir/ferretdb.log" 2>&1 &
  pid=$!
  if ! wait_for_port "$port" "$pid"; then
    log "FerretDB did not accept connections on 127.0.0.1:$port within ${START_TIMEOUT_S}s; its log:"
    tail -n 30 "$dir/ferretdb.log" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -rf "$dir"
    return 1
  fi
  log "FerretDB $FERRETDB_VERSION listening on 127.0.0.1:$port (pid $pid, data in $dir)"
  # Exported, so that `eval "$(...)" && npm test` hands them to the tests.
  printf 'export MONGODB_URL=%q\n' "mongodb://127.0.0.1:$port/"
  printf 'export FERRETDB_PID=%q\n' "$pid"
  printf 'export FERRETDB_DIR=%q\n' "$dir"
}

stop() {
  local pid="${1:-${FERRETDB_PID:-}}" dir="${FERRETDB_DIR:-}"
  [[ -n "$pid" ]] || { log "usage: $0 stop [pid] (or set FERRETDB_PID)"; return 1; }
  # Only ever signal a FerretDB: the pid may have been reused since it was printed.
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q ferretdb; then
    kill "$pid"
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "stopped FerretDB (pid $pid)"
  else
    log "no FerretDB with pid $pid is running"
  fi
  # Remove only a directory this script made.
  if [[ -n "$dir" && -f "$dir/ferretdb.log" && "$(basename "$dir")" == ferretdb.* ]]; then rm -rf "$dir"; fi
}

case "${1:-}" in
  start) start ;;
  stop) shift; stop "$@" ;;
  build) find_or_build >/dev/null ;;
  *) log "usage: $0 start | stop [pid] | build"; exit 2 ;;
esac
