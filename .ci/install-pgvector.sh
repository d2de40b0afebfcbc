#!/usr/bin/env bash
# Make the pgvector extension available in the local PostgreSQL 15 server and
# enable it in database `test`.
#
# Intended for CI on a fresh Debian 12 (bookworm) machine, run as root, no stdin.
# Debian 12 does not package pgvector for PostgreSQL 15, so we build it from
# Debian trixie's source package (deb-src only; no trixie binaries are added).
#
# Idempotent: if `vector` is already listed in pg_available_extensions the
# build is skipped and only `CREATE EXTENSION IF NOT EXISTS vector` is run.
set -euo pipefail
exec </dev/null

PG_MAJOR=15
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
PGHOST_ADDR=127.0.0.1
PGPORT_NUM=5432
PGUSER_NAME=postgres
TARGET_DB=test
SRC_LIST=/etc/apt/sources.list.d/onbrand-trixie-src.list
DEFAULT_MIRROR=http://deb.debian.org/debian
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

export DEBIAN_FRONTEND=noninteractive

log() { echo "[pgvector] $*"; }
die() { echo "[pgvector] ERROR: $*" >&2; exit 1; }

psql_test() {
  psql -X -v ON_ERROR_STOP=1 -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U "$PGUSER_NAME" -d "$TARGET_DB" "$@"
}

[[ $(id -u) -eq 0 ]] || die "must run as root"

# --- 1. make sure the server is up -------------------------------------------
ensure_server() {
  if pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM"; then
    return 0
  fi
  log "PostgreSQL not accepting connections; starting cluster ${PG_MAJOR}/main"
  pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || true
  for _ in $(seq 1 60); do
    if pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM"; then
      log "PostgreSQL is ready"
      return 0
    fi
    sleep 1
  done
  die "PostgreSQL did not become ready on ${PGHOST_ADDR}:${PGPORT_NUM}"
}

vector_available() {
  [[ "$(psql_test -tAc "select 1 from pg_available_extensions where name='vector'")" == "1" ]]
}

# Find the Debian (non-security) mirror this machine already uses, from either
# one-line (*.list / sources.list) or deb822 (*.sources) apt sources.
detect_mirror() {
  local f url
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f && $f != "$SRC_LIST" ]] || continue
    url=$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i ~ /:\/\//) { print $i; break } }' "$f" \
          | grep -E '/debian/?$' | grep -v security | head -n1 || true)
    [[ -n $url ]] && { echo "${url%/}"; return 0; }
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    url=$(awk 'tolower($1)=="uris:" { for (i=2;i<=NF;i++) print $i }' "$f" \
          | grep -E '/debian/?$' | grep -v security | head -n1 || true)
    [[ -n $url ]] && { echo "${url%/}"; return 0; }
  done
  echo "$DEFAULT_MIRROR"
}

build_and_install() {
  local mirror signed_by="" workdir srcdir
  mirror=$(detect_mirror)
  [[ -f $KEYRING ]] && signed_by="[signed-by=${KEYRING}] "
  log "adding deb-src for trixie main (${mirror}) in ${SRC_LIST}"
  echo "deb-src ${signed_by}${mirror} trixie main" > "$SRC_LIST"

  log "apt-get update"
  apt-get update -qq

  log "installing build dependencies (postgresql-server-dev-${PG_MAJOR}, build-essential, dpkg-dev)"
  apt-get install -y -qq --no-install-recommends \
    "postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev >/dev/null

  workdir=$(mktemp -d /tmp/pgvector-build.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$workdir'" EXIT
  # let apt's sandbox user write the download (avoids the "unsandboxed" notice)
  if id _apt >/dev/null 2>&1; then chown _apt "$workdir"; fi

  log "downloading pgvector source package into ${workdir}"
  (cd "$workdir" && apt-get source -qq --download-only pgvector)
  local dsc
  dsc=$(find "$workdir" -maxdepth 1 -name 'pgvector_*.dsc' | head -n1)
  [[ -n $dsc ]] || die "apt-get source did not produce a pgvector .dsc"
  log "unpacking $(basename "$dsc")"
  # (dpkg-source may print "gpgv: Can't check signature: No public key" since
  # debian-keyring isn't installed; harmless, apt already verified the files
  # against the signed trixie Release file.)
  (cd "$workdir" && dpkg-source -q -x "$(basename "$dsc")" src >/dev/null)
  srcdir="$workdir/src"

  # OPTFLAGS= : drop upstream's -march=native so the binary is portable (same as Debian's build)
  log "building (make)"
  make -C "$srcdir" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS= >/dev/null
  log "installing (make install)"
  make -C "$srcdir" -s PG_CONFIG="$PG_CONFIG" OPTFLAGS= install >/dev/null
}

ensure_server

if vector_available; then
  log "vector extension already available; skipping build"
else
  start=$SECONDS
  build_and_install
  vector_available || die "vector still not in pg_available_extensions after install"
  log "build+install finished in $((SECONDS - start))s"
fi

PGOPTIONS="-c client_min_messages=warning" psql_test -qc "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
log "extension vector $(psql_test -tAc "select extversion from pg_extension where extname='vector'") enabled in database ${TARGET_DB}"
