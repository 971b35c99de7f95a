#!/usr/bin/env bash
# Shared system pieces of the e2e testbed: a Docker engine, a registry on
# 127.0.0.1:5000 and the stand-in ERPNext images in it.
#
#   bash test/testbed/system.sh start    # idempotent; safe to call concurrently
#   bash test/testbed/system.sh status
#   bash test/testbed/system.sh stop     # stops registry and dockerd (testbeds should be down)
#
# No systemd here: dockerd and the registry are started by hand, detached.
# Docker bridge networks come from 10.212.0.0/15 (docker0 10.212.0.1/24, compose
# projects /26 slices of 10.213.0.0/16: 1024 of them), traffic from containers
# to anything outside that range is dropped (DOCKER-USER) and not masqueraded:
# the stand-in containers only ever talk to each other; the host reaches them
# through ports published on loopback addresses.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${FK_TESTBED_STATE:-/var/lib/fk-testbed}
LOGDIR=/var/log/fk-testbed
REGISTRY_ADDR=127.0.0.1:5000
IMAGE_REPO=$REGISTRY_ADDR/erpnext
BRIDGE_RANGE=10.212.0.0/15
# tag -> "version variant"
TAGS=(
  "v15.38.0 v15.38.0 good"
  "v15.39.0 v15.39.0 good"
  "v15.40.1 v15.40.1 good"
  "v15.41.0 v15.41.0 good"
  "v15.41.0-unhealthy v15.41.0 unhealthy"
  "v15.41.0-migratefail v15.41.0 migratefail"
  "v15.41.0-badbackup v15.41.0 badbackup"
  "v15.41.0-slowmigrate v15.41.0 slowmigrate"
)

log() { echo "[testbed/system] $*" >&2; }

docker_up() { docker info >/dev/null 2>&1; }
registry_up() { curl -fsS -m 2 "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; }

write_configs() {
  mkdir -p "$STATE/registry" "$LOGDIR"
  cat > "$STATE/daemon.json" <<EOF
{
  "bip": "10.212.0.1/24",
  "default-address-pools": [{ "base": "10.213.0.0/16", "size": 26 }],
  "ip-masq": false,
  "log-driver": "json-file",
  "log-opts": { "max-size": "1m", "max-file": "2" },
  "storage-driver": "overlay2",
  "shutdown-timeout": 5,
  "max-concurrent-downloads": 10,
  "max-concurrent-uploads": 10
}
EOF
  cat > "$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  fields:
    service: fk-testbed-registry
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  headers:
    X-Content-Type-Options: [nosniff]
EOF
}

tune_kernel() {
  # 200 hosts = 1400 containers, each with a Go shim of ~10 threads: the
  # default pid_max (32768) and inotify instance limit run out first.
  local want cur
  cur=$(cat /proc/sys/kernel/pid_max); want=4194304
  [ "$cur" -ge "$want" ] || sysctl -q -w kernel.pid_max=$want || log "could not raise kernel.pid_max ($cur)"
  cur=$(cat /proc/sys/fs/inotify/max_user_instances); want=8192
  [ "$cur" -ge "$want" ] || sysctl -q -w fs.inotify.max_user_instances=$want || log "could not raise inotify instances ($cur)"
}

start_dockerd() {
  if docker_up; then return 0; fi
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  log "starting dockerd (log: $LOGDIR/dockerd.log)"
  setsid nohup dockerd --config-file "$STATE/daemon.json" >>"$LOGDIR/dockerd.log" 2>&1 </dev/null 9>&- &
  for _ in $(seq 1 120); do
    if docker_up; then return 0; fi
    sleep 0.5
  done
  tail -n 30 "$LOGDIR/dockerd.log" >&2
  log "dockerd did not come up within 60 s"
  return 1
}

isolate_containers() {
  # Containers may reach each other, nothing else.
  iptables -N DOCKER-USER 2>/dev/null || true
  if ! iptables -C DOCKER-USER -s "$BRIDGE_RANGE" ! -d "$BRIDGE_RANGE" -j DROP 2>/dev/null; then
    iptables -I DOCKER-USER -s "$BRIDGE_RANGE" ! -d "$BRIDGE_RANGE" -j DROP
  fi
}

start_registry() {
  if registry_up; then return 0; fi
  log "starting docker-registry on $REGISTRY_ADDR (log: $LOGDIR/registry.log)"
  setsid nohup /usr/bin/docker-registry serve "$STATE/registry.yml" >>"$LOGDIR/registry.log" 2>&1 </dev/null 9>&- &
  echo $! > "$STATE/registry.pid"
  for _ in $(seq 1 60); do
    if registry_up; then return 0; fi
    sleep 0.25
  done
  tail -n 30 "$LOGDIR/registry.log" >&2
  log "registry did not answer on $REGISTRY_ADDR"
  return 1
}

images_hash() {
  { printf '%s\n' "${TAGS[@]}"; sha256sum /bin/busybox; (cd "$HERE/image" && find . -type f | LC_ALL=C sort | xargs sha256sum); } | sha256sum | cut -c1-16
}

tag_in_registry() {
  curl -fsS -m 5 -o /dev/null -I \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY_ADDR/v2/erpnext/manifests/$1" 2>/dev/null
}

ensure_images() {
  local hash missing=0 entry tag version variant ctx
  hash=$(images_hash)
  for entry in "${TAGS[@]}"; do
    read -r tag _ _ <<<"$entry"
    tag_in_registry "$tag" || missing=1
  done
  if [ "$missing" = 0 ] && [ "$(cat "$STATE/images.hash" 2>/dev/null)" = "$hash" ]; then return 0; fi
  log "building stand-in images ($hash)"
  ctx=$(mktemp -d)
  cp -a "$HERE/image/." "$ctx/"
  cp /bin/busybox "$ctx/busybox"
  for entry in "${TAGS[@]}"; do
    read -r tag version variant <<<"$entry"
    if ! docker build -q --network none \
      --build-arg "STANDIN_VERSION=$version" --build-arg "STANDIN_VARIANT=$variant" \
      -t "$IMAGE_REPO:$tag" "$ctx" >"$ctx.log" 2>&1; then
      cat "$ctx.log" >&2; rm -rf "$ctx" "$ctx.log"; log "docker build of $tag failed"; return 1
    fi
    if ! docker push "$IMAGE_REPO:$tag" >"$ctx.log" 2>&1; then
      cat "$ctx.log" >&2; rm -rf "$ctx" "$ctx.log"; log "docker push of $tag failed"; return 1
    fi
  done
  rm -rf "$ctx" "$ctx.log"
  echo "$hash" > "$STATE/images.hash"
  log "pushed ${#TAGS[@]} tags to $IMAGE_REPO"
}

cmd_start() {
  mkdir -p "$STATE" /run/sshd
  exec 9>"$STATE/system.lock"
  flock 9
  write_configs
  tune_kernel
  start_dockerd
  isolate_containers
  start_registry
  ensure_images
}

cmd_status() {
  local rc=0
  if docker_up; then echo "dockerd: running ($(docker info -f '{{.ServerVersion}}, {{.Containers}} containers' 2>/dev/null))"; else echo "dockerd: down"; rc=1; fi
  if registry_up; then echo "registry: running on $REGISTRY_ADDR"; else echo "registry: down"; rc=1; fi
  local entry tag
  for entry in "${TAGS[@]}"; do
    read -r tag _ _ <<<"$entry"
    if registry_up && tag_in_registry "$tag" 2>/dev/null; then echo "image $IMAGE_REPO:$tag: present"; else echo "image $IMAGE_REPO:$tag: missing"; rc=1; fi
  done
  return $rc
}

cmd_stop() {
  exec 9>"$STATE/system.lock"
  flock 9
  if [ -f "$STATE/registry.pid" ] && kill "$(cat "$STATE/registry.pid")" 2>/dev/null; then log "registry stopped"; fi
  rm -f "$STATE/registry.pid"
  if [ -f /var/run/docker.pid ]; then
    local pid
    pid=$(cat /var/run/docker.pid)
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      log "dockerd stopped"
    fi
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
