# shellcheck shell=bash
# shellcheck disable=SC2034  # DO_ENABLE, CHANGED... are read by the scripts that source this
# Shared by install-terminal.sh and install-server.sh (sourced, not run). Bash.
#
# Every step is idempotent: a file is written only when its content differs, a config file an
# admin edits is written only when missing, users and folders are made only when absent.
# With DESTDIR set (tests, packaging) everything goes under that folder and nothing touches the
# running system: no apt, no users, no chown, no systemctl/udevadm, no venv unless asked.

set -euo pipefail

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/floreyn}
FLOREYN_USER=${FLOREYN_USER:-floreyn}
DO_APT=1
DO_VENV=1
DO_ENABLE=1
CHANGED=0

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# staging: true when installing into DESTDIR (nothing on the live system is touched)
staging() { [ -n "$DESTDIR" ]; }

need_root() {
    staging && return 0
    [ "$(id -u)" = 0 ] || die "run as root (sudo $0), or set DESTDIR to stage the files"
}

# live CMD...: run a command on the live system only (skipped when staging)
live() {
    if staging; then
        log "  (staging) skip: $*"
        return 0
    fi
    "$@"
}

# put_file SRC DST MODE [OWNER:GROUP]: install SRC as DESTDIR/DST when the content differs.
put_file() {
    local src=$1 dst=$DESTDIR$2 mode=$3 owner=${4:-}
    [ -f "$src" ] || die "missing $src"
    if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
        log "  unchanged $2"
    else
        install -D -m "$mode" "$src" "$dst"
        log "  installed $2"
        CHANGED=1
    fi
    chmod "$mode" "$dst"
    if [ -n "$owner" ] && ! staging; then chown "$owner" "$dst"; fi
}

# put_once SRC DST MODE [OWNER:GROUP]: a config file the admin edits: written only when absent.
put_once() {
    local src=$1 dst=$DESTDIR$2
    if [ -e "$dst" ]; then
        log "  kept      $2 (yours)"
        return 0
    fi
    put_file "$@"
}

# make_dir DIR MODE [OWNER:GROUP]
make_dir() {
    local dir=$DESTDIR$1 mode=$2 owner=${3:-}
    install -d -m "$mode" "$dir"
    chmod "$mode" "$dir"
    if [ -n "$owner" ] && ! staging; then chown "$owner" "$dir"; fi
}

# apt_install PKG...: only the missing ones; never when staging or with --no-apt.
apt_install() {
    [ "$DO_APT" = 1 ] || { log "  (--no-apt) skip apt: $*"; return 0; }
    staging && { log "  (staging) skip apt: $*"; return 0; }
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
    done
    [ ${#missing[@]} = 0 ] && { log "  apt: all present"; return 0; }
    log "  apt: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_user HOME [GROUP...]: the system user, and membership of the groups that exist here.
ensure_user() {
    local home=$1
    shift
    staging && { log "  (staging) skip user $FLOREYN_USER"; return 0; }
    if ! id -u "$FLOREYN_USER" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin \
            --comment "Floreyn" "$FLOREYN_USER"
        log "  user $FLOREYN_USER created"
    fi
    local g
    for g in "$@"; do
        if getent group "$g" >/dev/null && ! id -nG "$FLOREYN_USER" | tr ' ' '\n' | grep -qx "$g"; then
            usermod -a -G "$g" "$FLOREYN_USER"
            log "  user $FLOREYN_USER joins $g"
        fi
    done
}

# make_venv EXTRA SOURCE: PREFIX/venv with floreyn[EXTRA] from SOURCE (the source tree or a wheel).
make_venv() {
    local extra=$1 source=$2 venv=$DESTDIR$PREFIX/venv
    [ "$DO_VENV" = 1 ] || { log "  (--no-venv) skip the virtual environment"; return 0; }
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        log "  venv made at $PREFIX/venv"
    fi
    "$venv/bin/python" -m pip install --quiet --upgrade "${source}[${extra}]"
    log "  floreyn[$extra] installed from $source"
}

parse_common_flag() {
    case $1 in
        --no-apt) DO_APT=0 ;;
        --no-venv) DO_VENV=0 ;;
        --no-enable) DO_ENABLE=0 ;;
        *) return 1 ;;
    esac
}
