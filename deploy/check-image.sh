#!/usr/bin/env bash
# Checks deploy/Dockerfile without docker: runs its stages' COPY and RUN lines, in order, in
# folders of a temp dir (one per stage; the build context is the repository's files that git
# does not ignore, minus .dockerignore's main entries), then runs the runtime stage's folder as
# the image would: no dev dependency installed, `node dist/cli.js --help`, a KV node and a host
# until /readyz, the first admin token (`token bootstrap`), a function built (asc) and deployed
# from there, a call, and SIGTERM (exit 0). Run as root, that part runs as uid 1000 (the
# image's USER) with the app folder mounted read-only (a mount namespace): what the pods'
# securityContext allows, but for the rest of the root filesystem and the base image, which
# only a real image shows. Usage: deploy/check-image.sh [--keep]
set -euo pipefail
say() { echo "check-image: $*"; }
fail() { echo "check-image: $*" >&2; exit 1; }

# ---- phase 2 (`--run APP DATA`): the runtime folder as the image runs it ---------------------
if [[ "${1:-}" == "--run" ]]; then
  APP="$2"; DATA="$3"; AS=()
  if [[ $(id -u) == 0 ]]; then
    mount --bind "$APP" "$APP" && mount -o remount,bind,ro "$APP"
    touch "$APP/x" 2>/dev/null && fail "the app folder is still writable"
    AS=(setpriv --reuid 1000 --regid 1000 --clear-groups)
    say "runtime as uid 1000, $APP read-only"
  fi
  PIDS=()
  trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
  cd "$APP"
  run() { HOME="$DATA" "${AS[@]}" node dist/cli.js "$@"; }
  run --help | head -1
  free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
  KV_PORT=$(free_port); HOST_PORT=$(free_port)
  export CLOUDBURST_CLUSTER_SECRET; CLOUDBURST_CLUSTER_SECRET=$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')
  # Started directly (not through `run`, whose subshell would get the signals): $! is node's pid (setpriv execs it).
  HOME="$DATA" "${AS[@]}" node dist/cli.js kvs --port "$KV_PORT" --data "$DATA/kv" >"$DATA/kv.log" 2>&1 & PIDS+=($!)
  HOME="$DATA" "${AS[@]}" node dist/cli.js host --port "$HOST_PORT" --data "$DATA/host" --kvs "127.0.0.1:$KV_PORT" --workers 2 >"$DATA/host.log" 2>&1 & PIDS+=($!)
  wait_for() {
    for _ in $(seq 1 120); do
      node -e 'fetch(process.argv[1]).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))' "$1" && return 0
      sleep 0.5
    done
    cat "$DATA/kv.log" "$DATA/host.log" >&2; fail "$1 never answered 200"
  }
  # The probes of the manifests: ready, not only alive.
  wait_for "http://127.0.0.1:$KV_PORT/kv/v1/readyz"
  wait_for "http://127.0.0.1:$HOST_PORT/readyz"
  say "KV node and host ready"
  TOKEN=$(run token bootstrap --kvs "127.0.0.1:$KV_PORT" 2>/dev/null)
  URL="http://127.0.0.1:$HOST_PORT"
  # asc writes nothing beside the source: the output goes to the data folder.
  run build guest/examples/math.ts -o "$DATA/math.wasm" >/dev/null
  run fn deploy "$DATA/math.wasm" --name math --url "$URL" --token "$TOKEN" >/dev/null
  RESULT=$(run fn call math.square 7 --url "$URL" --token "$TOKEN")
  [[ "$RESULT" == "49" ]] || fail "math.square 7 gave $RESULT"
  say "token bootstrap, build (asc), fn deploy, fn call math.square 7 = $RESULT: ok"
  # What Kubernetes does to stop a pod: SIGTERM; the process drains and exits 0.
  for i in 1 0; do
    kill -TERM "${PIDS[$i]}"
    code=0; wait "${PIDS[$i]}" || code=$?
    [[ $code == 0 ]] || { cat "$DATA/kv.log" "$DATA/host.log" >&2; fail "exit $code after SIGTERM"; }
  done
  PIDS=()
  say "host and KV node stopped on SIGTERM with exit 0"
  exit 0
fi

# ---- phase 1: the Dockerfile's stages --------------------------------------------------------
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOCKERFILE="$ROOT/deploy/Dockerfile"
TMP=$(mktemp -d -t cb-image-XXXXXX)
trap 'if [[ "${1:-}" == "--keep" ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi' EXIT
# npm's cache for the RUN lines is the temp dir's: the Dockerfile cleans its cache, not this machine's.
export npm_config_cache="$TMP/npm-cache"

mkdir -p "$TMP/context"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | grep -zvE '^(test|docs|deploy/kubernetes)/' | xargs -0 cp --parents -t "$TMP/context")

declare -A WORKDIR
stage=""
while IFS= read -r line; do
  [[ "$line" == *'\' ]] && fail "continued lines are not supported: $line"
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
for dev in esbuild vitest typescript kubernetes-models; do
  [[ -e "$APP/node_modules/$dev" ]] && fail "dev dependency $dev is in the runtime"
done
[[ -e "$APP/dist/cli.js" && -e "$APP/dist/worker.js" && ! -e "$APP/dist/bench.js" ]] || fail "dist/ is not cli.js + worker.js"
say "runtime: $(du -sh "$APP" | cut -f1), node_modules $(du -sh "$APP/node_modules" | cut -f1); no dev dependency"

# The pods' writable volumes (/data, /tmp): a folder the image's user owns.
DATA="$TMP/data"; mkdir -p "$DATA"; chmod 755 "$TMP"
if [[ $(id -u) == 0 ]] && command -v unshare >/dev/null && command -v setpriv >/dev/null; then
  chown 1000:1000 "$DATA"
  unshare -m --propagation private bash "$0" --run "$APP" "$DATA"
else
  say "not root (or no unshare/setpriv): the runtime runs as $(id -un) with its folder writable"
  bash "$0" --run "$APP" "$DATA"
fi
