#!/usr/bin/env bash
# Read path benchmark: wrk against liveblog's reader page and feed.json on loopback, with and
# without If-None-Match, then through nginx as a caching proxy (bench/nginx-cache.conf),
# counting the requests that reach the origin.
#
#   bench/readpath.sh [--duration 15] [--levels "10 100 1000"] [--posts 30] [--out DIR]
#
# The origin is liveblog's own gunicorn + gevent server (1 worker, SQLite in a temp dir,
# prepared with liveblog's functions) started with an access log so its requests can be
# counted; it runs pinned to CPU 0 (with nginx), wrk to CPU 1. Everything it starts is stopped
# by PID on exit. Needs wrk and nginx (Debian packages wrk, nginx-light or nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}

DURATION=15
LEVELS="10 100 1000"
POSTS=30
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --levels) LEVELS=$2; shift 2 ;;
    --posts) POSTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-bench/results/$(date -u +%Y-%m-%d)-readpath}
mkdir -p "$OUT"
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install -y wrk nginx-light curl)" >&2; exit 1; }
done
PIN0=""; PIN1=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN0="taskset -c 0"; PIN1="taskset -c 1"; fi

TMP=$(mktemp -d /tmp/liveblog-readpath.XXXXXX)
ORIGIN_PID=""; NGINX_PID=""; WRITER_PID=""
cleanup() {
  for pid in $WRITER_PID $NGINX_PID $ORIGIN_PID; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $WRITER_PID $NGINX_PID $ORIGIN_PID; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # URL: wait up to 30 s for an answer
  for _ in $(seq 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "no answer from $1" >&2; return 1
}

# -- the origin --------------------------------------------------------------------------
export LIVEBLOG_INSTANCE_PATH=$TMP/instance LIVEBLOG_DATABASE_URL=sqlite:///$TMP/read.db
export LIVEBLOG_SECRET_KEY=readpath-$RANDOM$RANDOM LIVEBLOG_BROKER_URL=""
mkdir -p "$LIVEBLOG_INSTANCE_PATH"
TOKEN=$("$PY" - <<'EOF'
import os
from liveblog.accounts import create_token, create_user
from liveblog.cli import upgrade_database
from liveblog.db import Database

url = os.environ["LIVEBLOG_DATABASE_URL"]
upgrade_database(url)
db = Database(url)
create_user(db, "readpath", "editor", None, "Read Path")
print(create_token(db, "readpath"))
db.dispose()
EOF
)
ORIGIN_PORT=$(free_port)
ACCESS=$TMP/origin-access.log
# liveblog's own server settings, plus an access log to count what reaches the origin.
$PIN0 "$PY" -c '
from gevent import monkey; monkey.patch_all()
import sys
from liveblog.server import LiveblogServer, options, raise_open_file_limit
opts = options("127.0.0.1", int(sys.argv[1]), 1, 20000)
opts["accesslog"] = sys.argv[2]
raise_open_file_limit()
LiveblogServer(opts).run()
' "$ORIGIN_PORT" "$ACCESS" >"$TMP/origin.log" 2>&1 &
ORIGIN_PID=$!
ORIGIN=http://127.0.0.1:$ORIGIN_PORT
wait_http "$ORIGIN/healthz"

SLUG=readpath-$RANDOM
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" "$@"; }
api -d "{\"title\":\"Banjir Jakarta\",\"language\":\"id\",\"timezone\":\"Asia/Jakarta\",\"slug\":\"$SLUG\"}" \
  "$ORIGIN/api/v1/stories" >/dev/null
for n in $(seq "$POSTS"); do
  api -d "{\"body\":\"<p>Pembaruan $n: air mulai surut di Kampung Melayu, petugas masih berjaga.</p>\"}" \
    "$ORIGIN/api/v1/stories/$SLUG/posts" >/dev/null
done
PAGE=/stories/$SLUG
FEED=/stories/$SLUG/feed.json
etag() { curl -sI "$ORIGIN$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}'; }
cache_control() { curl -sI "$ORIGIN$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="cache-control"{print $2}'; }
PAGE_ETAG=$(etag "$PAGE"); FEED_ETAG=$(etag "$FEED")
CC=$(cache_control "$FEED")
MAX_AGE=$(echo "$CC" | sed -n 's/.*max-age=\([0-9]*\).*/\1/p')
echo "origin $ORIGIN, story $SLUG, $POSTS posts; feed Cache-Control: $CC" >&2

# -- wrk ---------------------------------------------------------------------------------
RESULTS=$OUT/readpath.md
{
  echo "# Read path, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "wrk 1 thread, ${DURATION}s per line, pinned to CPU 1; origin (1 gevent worker) and nginx on CPU 0."
  echo "Feed Cache-Control: \`$CC\`."
  echo
  echo "| target | path | If-None-Match | connections | requests/s | p50 | p99 | non-2xx/3xx | origin requests | origin req per ${MAX_AGE}s |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$RESULTS"

run_wrk() {  # label url inm(yes/no) connections
  local label=$1 url=$2 inm=$3 conns=$4 header=() etag_value
  if [ "$inm" = yes ]; then
    case "$url" in *feed.json) etag_value=$FEED_ETAG ;; *) etag_value=$PAGE_ETAG ;; esac
    header=(-H "If-None-Match: $etag_value")
  fi
  local before after out
  before=$(grep -c "GET /stories/" "$ACCESS" 2>/dev/null || true)
  out=$TMP/wrk-$label-$conns-$inm.txt
  $PIN1 wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 10s --latency "${header[@]}" "$url" >"$out" 2>&1 || true
  sleep 0.5
  after=$(grep -c "GET /stories/" "$ACCESS" 2>/dev/null || true)
  cp "$out" "$OUT/"
  local rps p50 p99 errs origin per
  rps=$(awk '/Requests\/sec/{print $2}' "$out")
  p50=$(awk '$1=="50%"{print $2}' "$out")
  p99=$(awk '$1=="99%"{print $2}' "$out")
  errs=$(awk '/Non-2xx or 3xx/{print $NF}' "$out"); errs=${errs:-0}
  origin=$((after - before))
  per=$(awk -v o="$origin" -v d="$DURATION" -v m="${MAX_AGE:-5}" 'BEGIN{printf "%.1f", o / (d / m)}')
  echo "| $label | ${url#http://127.0.0.1:*/} | $inm | $conns | $rps | $p50 | $p99 | $errs | $origin | $per |" | tee -a "$RESULTS" >&2
}

# Direct to the origin: what one worker can render, and what ETag revalidation saves.
for path in "$PAGE" "$FEED"; do
  for inm in no yes; do
    run_wrk origin "$ORIGIN$path" "$inm" 50
  done
done

# -- nginx in front ----------------------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx/tmp" "$TMP/nginx/cache"
sed -e "s#@PREFIX@#$TMP/nginx#g" -e "s#@PORT@#$NGINX_PORT#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" \
  bench/nginx-cache.conf >"$TMP/nginx/nginx.conf"
NGINX_GLOBALS="daemon off;"
# As root, nginx's workers would switch to an unprivileged user that cannot enter our temp dir.
if [ "$(id -u)" = 0 ]; then NGINX_GLOBALS="$NGINX_GLOBALS user $(id -un) $(id -gn);"; fi
$PIN0 nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" -g "$NGINX_GLOBALS" &
NGINX_PID=$!
PROXY=http://127.0.0.1:$NGINX_PORT
wait_http "$PROXY/healthz"
curl -s -o /dev/null "$PROXY$FEED"; curl -s -o /dev/null "$PROXY$PAGE"  # warm the cache
if [ -n "${READPATH_DEBUG:-}" ]; then curl -sI "$PROXY$FEED" >&2; cat "$TMP/nginx/error.log" >&2; fi

for conns in $LEVELS; do
  run_wrk nginx "$PROXY$FEED" no "$conns"
done
run_wrk nginx "$PROXY$PAGE" no "$(echo "$LEVELS" | awk '{print $NF}')"

# The same while the desk publishes an update every second: the cache still refreshes about
# once per max-age (readers see a new post within max-age, the live stream has it at once).
(
  end=$((SECONDS + DURATION))
  n=0
  while [ $SECONDS -lt $end ] && [ $n -lt 600 ]; do
    n=$((n + 1))
    api -d "{\"body\":\"<p>Pembaruan langsung $n.</p>\"}" "$ORIGIN/api/v1/stories/$SLUG/posts" >/dev/null || true
    sleep 1
  done
) &
WRITER_PID=$!
run_wrk nginx+writes "$PROXY$FEED" no "$(echo "$LEVELS" | awk '{print $NF}')"
wait "$WRITER_PID" 2>/dev/null || true
WRITER_PID=""

{
  echo
  echo "origin requests: lines in the origin's access log during each run (the cache's"
  echo "revalidations included); 'per ${MAX_AGE}s' divides them by the run's max-age periods."
} >>"$RESULTS"
cp "$TMP/nginx/nginx.conf" "$OUT/nginx.conf.used"
cat "$RESULTS"
