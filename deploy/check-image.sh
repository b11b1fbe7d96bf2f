#!/usr/bin/env bash
# Checks deploy/Dockerfile without docker: runs its stages' COPY and RUN lines, in order, in
# folders of a temp dir (one per stage, the build context being the repository's files that git
# does not ignore, minus .dockerignore's main entries), then runs the runtime stage's folder as
# the image would: `node dist/cli.js --help`, a KV node and a host with no dev dependency
# installed, the first admin token (`token bootstrap`), a function built and deployed from
# there, and a call. What it cannot check: the base image itself, the USER switch, and a
# read-only root filesystem (it runs as whoever runs it). Usage: deploy/check-image.sh [--keep]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOCKERFILE="$ROOT/deploy/Dockerfile"
TMP=$(mktemp -d -t cb-image-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${1:-}" != "--keep" ]]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap 'cleanup "${KEEP:-}"' EXIT
[[ "${1:-}" == "--keep" ]] && KEEP=--keep
say() { echo "check-image: $*"; }

# The build context: what git tracks or would track, without what .dockerignore leaves out.
mkdir -p "$TMP/context"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | grep -zvE '^(test|docs|deploy/kubernetes)/' | xargs -0 cp --parents -t "$TMP/context")

# npm's cache for the RUN lines is the temp dir's: the Dockerfile cleans its cache, not this machine's.
export npm_config_cache="$TMP/npm-cache"

declare -A WORKDIR
stage=""
while IFS= read -r line; do
  [[ "$line" == *'\' ]] && { echo "check-image: continued lines are not supported: $line" >&2; exit 1; }
  read -r -a words <<<"$line"
  case "${words[0]:-}" in
    FROM)
      stage="${words[3]:?a FROM without AS}"
      mkdir -p "$TMP/$stage"
      say "stage $stage" ;;
    WORKDIR) WORKDIR[$stage]="${words[1]}" ;;
    COPY)
      args=("${words[@]:1}")
      from="$TMP/context"; strip=""
      if [[ "${args[0]}" == --from=* ]]; then
        src_stage="${args[0]#--from=}"; from="$TMP/$src_stage"; strip="${WORKDIR[$src_stage]}/"; args=("${args[@]:1}")
      fi
      dest="${args[-1]}"; unset 'args[-1]'
      for src in "${args[@]}"; do
        src="${src#"$strip"}"
        if [[ "$dest" == */ ]]; then mkdir -p "$TMP/$stage/$dest"; cp -a "$from/$src" "$TMP/$stage/$dest"
        else mkdir -p "$(dirname "$TMP/$stage/$dest")"; cp -a "$from/$src" "$TMP/$stage/$dest"; fi
      done ;;
    RUN)
      say "  RUN ${line#RUN }"
      (cd "$TMP/$stage" && sh -c "${line#RUN }" >"$TMP/$stage.log" 2>&1) || { cat "$TMP/$stage.log"; exit 1; } ;;
  esac
done <"$DOCKERFILE"

APP="$TMP/runtime"
cd "$APP"
for dev in esbuild vitest typescript kubernetes-models; do
  [[ -e "node_modules/$dev" ]] && { echo "check-image: dev dependency $dev is in the runtime" >&2; exit 1; }
done
[[ -e dist/cli.js && -e dist/worker.js && ! -e dist/bench.js ]] || { echo "check-image: dist/ is not cli.js + worker.js" >&2; exit 1; }
say "runtime: $(du -sh "$APP" | cut -f1), node_modules $(du -sh node_modules | cut -f1); no dev dependency"

node dist/cli.js --help | head -1
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
KV_PORT=$(free_port); HOST_PORT=$(free_port)
export CLOUDBURST_CLUSTER_SECRET; CLOUDBURST_CLUSTER_SECRET=$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')
node dist/cli.js kvs --port "$KV_PORT" --data "$TMP/kv" >"$TMP/kv.log" 2>&1 & PIDS+=($!)
node dist/cli.js host --port "$HOST_PORT" --data "$TMP/host" --kvs "127.0.0.1:$KV_PORT" --workers 2 >"$TMP/host.log" 2>&1 & PIDS+=($!)
wait_for() {
  for _ in $(seq 1 120); do
    node -e 'fetch(process.argv[1]).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))' "$1" && return 0
    sleep 0.5
  done
  echo "check-image: $1 never answered 200" >&2; cat "$TMP/kv.log" "$TMP/host.log" >&2; exit 1
}
wait_for "http://127.0.0.1:$KV_PORT/kv/v1/healthz"
wait_for "http://127.0.0.1:$HOST_PORT/healthz"
say "KV node and host up from the runtime folder"
TOKEN=$(node dist/cli.js token bootstrap --kvs "127.0.0.1:$KV_PORT" 2>/dev/null)
URL="http://127.0.0.1:$HOST_PORT"
node dist/cli.js fn deploy guest/examples/math.ts --name math --url "$URL" --token "$TOKEN" >/dev/null
RESULT=$(node dist/cli.js fn call math.square 7 --url "$URL" --token "$TOKEN")
[[ "$RESULT" == "49" ]] || { echo "check-image: math.square 7 gave $RESULT" >&2; exit 1; }
say "token bootstrap, fn deploy (asc in the runtime), fn call math.square 7 = $RESULT: ok"
