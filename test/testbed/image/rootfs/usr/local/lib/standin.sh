# Shared helpers for the stand-in scripts (sourced by busybox sh).
# The stand-in "database" of a site is a directory in the db-data volume:
#   /var/lib/standin-db/<site>/schema_version   version the schema was migrated to
#   /var/lib/standin-db/<site>/rows.sql         the site's data, as SQL INSERT lines
#   /var/lib/standin-db/<site>.log              migrate/restore history (survives restores,
#                                               so tests can count migrations)

BENCH_DIR=/home/frappe/frappe-bench
SITES_DIR=$BENCH_DIR/sites
DB_ROOT=/var/lib/standin-db
IMAGE_VERSION=$(cat /etc/standin/version)
IMAGE_VARIANT=$(cat /etc/standin/variant)

die() {
  echo "$*" >&2
  exit 1
}

now_iso() { date -u '+%Y-%m-%d %H:%M:%S'; }

db_log() { # site, message
  echo "$(now_iso) $2" >> "$DB_ROOT/$1.log"
}

site_exists() { [ -f "$SITES_DIR/$1/site_config.json" ]; }

db_version() { cat "$DB_ROOT/$1/schema_version" 2>/dev/null; }

# version_cmp A B -> prints -1, 0 or 1 comparing vMAJOR.MINOR.PATCH numerically
# (a "-partial" suffix, left by a failed migrate, compares as its base version).
version_cmp() {
  echo "$1 $2" | awk '{
    a = $1; b = $2; sub(/^v/, "", a); sub(/^v/, "", b); sub(/-.*/, "", a); sub(/-.*/, "", b)
    na = split(a, x, "."); nb = split(b, y, ".")
    n = na > nb ? na : nb
    for (i = 1; i <= n; i++) { p = x[i] + 0; q = y[i] + 0; if (p < q) { print -1; exit } if (p > q) { print 1; exit } }
    print 0 }'
}

# Sites named on the command line: "all" means every directory with a site_config.json.
resolve_sites() {
  if [ "$1" = all ]; then
    for d in "$SITES_DIR"/*/; do
      d=${d%/}
      [ -f "$d/site_config.json" ] && echo "${d##*/}"
    done
  else
    echo "$1"
  fi
}

human_size() {
  awk -v n="$1" 'BEGIN { if (n < 1024) printf "%.1fB", n; else if (n < 1048576) printf "%.1fKiB", n / 1024; else printf "%.1fMiB", n / 1048576 }'
}
