#!/usr/bin/env bash
# Installs the system pieces the e2e testbed needs: Docker engine, a local
# registry, sshd, busybox (for stand-in images) and the Compose v2 plugin.
# Idempotent: safe to run on a machine that already has them.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v flock >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if ! docker compose version >/dev/null 2>&1; then
  # Compose v2 is not in bookworm; trixie's docker-compose package ships the
  # v2 plugin binary. Fetch it with a private sources list so the system's
  # apt configuration stays on bookworm.
  work=$(mktemp -d)
  mkdir -p "$work/etc/sources.list.d" "$work/lists/partial" "$work/cache/archives/partial"
  cat > "$work/etc/trixie.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/etc"
        -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o Dir::State::Status=/var/lib/dpkg/status)
  apt-get "${opts[@]}" update -q
  (cd "$work" && apt-get "${opts[@]}" download docker-compose)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/x"
  mkdir -p "$(dirname "$plugin")"
  install -m 0755 "$work/x/usr/libexec/docker/cli-plugins/docker-compose" "$plugin"
  rm -rf "$work"
fi
docker compose version
