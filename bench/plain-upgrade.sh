#!/usr/bin/env bash
# The benchmark's baseline: upgrading ONE host with nothing but ssh and a
# shell script, doing the same steps as fleetkeeper's host procedure:
# backup and its verification (copied off the volume, gzip -t, "-- Dump
# completed", size not far below the previous one), pull, maintenance on, set
# tag, recreate, wait for configurator, migrate, maintenance off, the same
# health window, prune. One ssh connection per host; no rollback, no lock, no
# journal: this is the "what would a careful admin script do" yardstick.
#
#   plain-upgrade.sh ADDR PORT USER KEY KNOWN_HOSTS DIR PROJECT SITE TAG HEALTH_URL BACKUP_DIR ATTEMPTS INTERVAL
#
# Run many at once with: xargs -P N -L 1 bench/plain-upgrade.sh < hosts.txt
set -euo pipefail
addr=$1 port=$2 user=$3 key=$4 known=$5 dir=$6 project=$7 site=$8 tag=$9
health_url=${10} backup_dir=${11} attempts=${12} interval=${13}

# The remote script travels as an argument, not on stdin: commands in it
# (docker compose exec, pull) would otherwise read the rest of it.
read -r -d '' REMOTE <<'REMOTE' || true
set -euo pipefail
dir=$1 project=$2 site=$3 tag=$4 health_url=$5 backup_dir=$6 attempts=$7 interval=$8
cd "$dir"
dc() { docker compose --ansi never --project-directory "$dir" -p "$project" "$@"; }
sites=/home/frappe/frappe-bench/sites
stamp=$(date -u +%Y%m%d%H%M%S)
t0=$(date +%s.%N)
mark() { echo "$site +$(echo "$(date +%s.%N) - $t0" | bc) s: $1" >&2; }

# pull first: no downtime while the image downloads
env_get() { sed -n "s/^$1=//p" .env | tail -n1; }
prev_tag=$(env_get CUSTOM_TAG); [ -n "$prev_tag" ] || prev_tag=$(env_get ERPNEXT_VERSION)
prev_image="$(env_get CUSTOM_IMAGE):$prev_tag"
CUSTOM_TAG=$tag ERPNEXT_VERSION=$tag dc pull -q

mark pulled
# backup, copy off the volume, verify
dc exec -T backend bench --site "$site" backup >/dev/null
dump=$(dc exec -T backend sh -c 'ls -t "$1"/"$2"/private/backups/*-database.sql.gz | head -n1' sh "$sites" "$site")
mkdir -p "$backup_dir/$stamp"
dc exec -T backend cat "$dump" > "$backup_dir/$stamp/database.sql.gz"
gzip -t "$backup_dir/$stamp/database.sql.gz"
gzip -dc "$backup_dir/$stamp/database.sql.gz" | tail -n1 | grep -q '^-- Dump completed'
size=$(stat -c %s "$backup_dir/$stamp/database.sql.gz")
prev=$(ls -t "$backup_dir"/*/database.sql.gz 2>/dev/null | sed -n 2p || true)
if [ -n "$prev" ] && [ "$size" -lt $(( $(stat -c %s "$prev") / 2 )) ]; then echo "backup too small" >&2; exit 1; fi

mark backed-up-and-verified
dc exec -T backend bench --site "$site" set-maintenance-mode on >/dev/null

# set the tag in .env, keeping every other line
cp .env ".env.bak-$stamp"
if grep -q '^CUSTOM_TAG=' .env; then sed "s/^CUSTOM_TAG=.*/CUSTOM_TAG=$tag/" .env > .env.new
else sed "s/^ERPNEXT_VERSION=.*/ERPNEXT_VERSION=$tag/" .env > .env.new; fi
mv .env.new .env

dc up -d --remove-orphans --quiet-pull 2>/dev/null
mark recreated
conf=$(dc ps -aq configurator)
rc=$(docker wait "$conf")
[ "$rc" = 0 ] || { echo "configurator exited $rc" >&2; exit 1; }

mark configurator-done
dc exec -T backend bench --site "$site" migrate >/dev/null
dc exec -T backend bench --site "$site" set-maintenance-mode off >/dev/null

mark migrated
# the same health window: ATTEMPTS consecutive pongs, INTERVAL seconds apart
ok=0
for _ in $(seq 1 $((attempts * 3))); do
  down=$(dc ps -a --format '{{.Service}} {{.State}}' | grep -v '^configurator ' | grep -vc ' running$' || true)
  if [ "$down" = 0 ] && curl -fsS -m 5 -H "Host: $site" "$health_url/api/method/ping" | grep -q '"pong"'; then
    ok=$((ok + 1)); [ "$ok" -ge "$attempts" ] && break
  else ok=0; fi
  sleep "$interval"
done
[ "$ok" -ge "$attempts" ] || { echo "health gate failed" >&2; exit 1; }

mark healthy
docker image rm "$prev_image" >/dev/null 2>&1 || true
docker image prune -f >/dev/null 2>&1 || true
mark pruned
echo "ok $site $tag"
REMOTE

ssh -i "$key" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes -o ForwardAgent=no \
  -o UserKnownHostsFile="$known" -o StrictHostKeyChecking=yes -o ConnectTimeout=10 \
  -o ServerAliveInterval=5 -o ServerAliveCountMax=3 \
  "$user@$addr" "bash -c $(printf '%q' "$REMOTE") bash $(printf '%q ' "$dir" "$project" "$site" "$tag" "$health_url" "$backup_dir" "$attempts" "$interval")" </dev/null
