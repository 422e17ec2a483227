#!/usr/bin/env bash
# Install or update the Floreyn server on Debian 12 / Ubuntu 22.04+ (or Raspberry Pi OS). Run it again to
# update: it stops the server, makes a backup, installs the new code, migrates the schema, starts again.
# It never overwrites /etc/floreyn/server.env.
#
#   sudo deploy/install-server.sh [--source DIR|WHEEL] [--postgresql] [--no-apt] [--no-enable]
#   DESTDIR=/tmp/stage deploy/install-server.sh --no-venv       # stage the files only (tests, packaging)
#
# What it sets up (docs/operations.md "Server operation"):
#   user floreyn            system user that runs the server
#   /opt/floreyn/venv       floreyn[server]
#   /etc/floreyn/server.env database URL and workers (FLOREYN_SERVER_ARGS), root:floreyn 0640
#   /var/lib/floreyn-server data folder: SQLite database, server_key.pem, bootstrap admin_token (0700)
#   /var/backups/floreyn    nightly backups (floreyn-backup.timer), the newest 30 kept (0700)
#   systemd                 floreyn-server.service on 127.0.0.1:8470, floreyn-backup.timer,
#                           floreyn-uploads.service on 127.0.0.1:8471 (installed, not enabled: the
#                           uploads in their own process, docs/operations.md),
#                           floreyn-budget-expire.timer (daily budget expiry)
#                           floreyn-housekeeping.timer (every minute: holds, reinstatements, snapshot entries)
#   --postgresql            PostgreSQL from apt, role and database `floreyn` (peer authentication over
#                           the local socket: no password anywhere), and server.env pointing at it
# The reverse proxy with TLS is yours to add: deploy/server/Caddyfile or nginx-floreyn.conf.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/install-lib.sh
. "$HERE/install-lib.sh"

SOURCE=$(dirname "$HERE")
SOURCE_DOCS=$(dirname "$HERE")/docs/operations.md  # the units' Documentation=
WITH_PG=0
CONF_DIR=/etc/floreyn
DATA_DIR=/var/lib/floreyn-server
BACKUP_DIR=/var/backups/floreyn
PG_ARGS="--db postgresql://floreyn@/floreyn?host=/run/postgresql --workers 2"

while [ $# -gt 0 ]; do
    case $1 in
        --source) SOURCE=$2; shift ;;
        --postgresql) WITH_PG=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) parse_common_flag "$1" || die "unknown option $1 (see --help)" ;;
    esac
    shift
done

need_root
log "Floreyn server: installing${DESTDIR:+ into $DESTDIR}"

log "apt packages"
apt_install python3 python3-venv
if [ "$WITH_PG" = 1 ]; then apt_install postgresql; fi

log "user and folders"
ensure_user "$DATA_DIR"
make_dir "$CONF_DIR" 0750 "root:$FLOREYN_USER"
make_dir "$DATA_DIR" 0700 "$FLOREYN_USER:$FLOREYN_USER"
make_dir "$BACKUP_DIR" 0700 "$FLOREYN_USER:$FLOREYN_USER"
make_dir "$PREFIX" 0755

log "configuration"
put_file "$SOURCE_DOCS" "$PREFIX/docs/operations.md" 0644
if [ "$WITH_PG" = 1 ] && [ ! -e "$DESTDIR$CONF_DIR/server.env" ]; then
    tmp_env=$(mktemp)
    sed "s|^FLOREYN_SERVER_ARGS=\$|FLOREYN_SERVER_ARGS=$PG_ARGS|" "$HERE/server/server.env" >"$tmp_env"
    put_once "$tmp_env" "$CONF_DIR/server.env" 0640 "root:$FLOREYN_USER"
    rm -f "$tmp_env"
else
    put_once "$HERE/server/server.env" "$CONF_DIR/server.env" 0640 "root:$FLOREYN_USER"
fi
put_file "$HERE/server/Caddyfile" "$CONF_DIR/Caddyfile.example" 0644
put_file "$HERE/server/nginx-floreyn.conf" "$CONF_DIR/nginx-floreyn.conf.example" 0644
journal_before=$CHANGED
put_file "$HERE/common/journald-floreyn.conf" /etc/systemd/journald.conf.d/floreyn.conf 0644
put_file "$HERE/common/logrotate-floreyn" /etc/logrotate.d/floreyn 0644
if [ "$CHANGED" != "$journal_before" ]; then live systemctl restart systemd-journald; fi

if [ "$WITH_PG" = 1 ] && ! staging; then
    log "PostgreSQL role and database"
    if ! runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$FLOREYN_USER'" | grep -qx 1; then
        runuser -u postgres -- createuser "$FLOREYN_USER"
        log "  role $FLOREYN_USER created"
    fi
    if ! runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'floreyn'" | grep -qx 1; then
        runuser -u postgres -- createdb --owner "$FLOREYN_USER" --encoding UTF8 floreyn
        log "  database floreyn created"
    fi
fi

# server_args: FLOREYN_SERVER_ARGS from server.env, as systemd reads it (one line KEY=VALUE).
server_args() {
    sed -n 's/^FLOREYN_SERVER_ARGS=//p' "$DESTDIR$CONF_DIR/server.env" | tail -n 1
}
as_floreyn() { runuser -u "$FLOREYN_USER" -- "$@"; }

was_active=0
uploads_active=0  # floreyn-uploads.service: the uploads' own process, where the admin enabled it
if ! staging && systemctl is-active --quiet floreyn-uploads.service; then
    uploads_active=1
    systemctl stop floreyn-uploads.service
fi
if ! staging && systemctl is-active --quiet floreyn-server.service; then
    was_active=1
    log "stopping the server for the update (the tills keep working offline)"
    systemctl stop floreyn-server.service
fi
if ! staging && [ "$DO_VENV" = 1 ] && [ -x "$PREFIX/venv/bin/floreyn-server" ] \
    && { [ -f "$DATA_DIR/floreyn.db" ] || [ -n "$(server_args)" ]; }; then
    log "backup before the update"
    # shellcheck disable=SC2046  # the arguments are meant to split into words, as systemd splits them
    as_floreyn "$PREFIX/venv/bin/floreyn-server" --data-dir "$DATA_DIR" $(server_args) backup --to "$BACKUP_DIR" \
        >/dev/null
fi

log "virtual environment"
make_venv server "$SOURCE"
if ! staging && [ "$DO_VENV" = 1 ]; then
    log "schema migrations"
    # shellcheck disable=SC2046
    as_floreyn "$PREFIX/venv/bin/floreyn-server" --data-dir "$DATA_DIR" $(server_args) migrate
fi

log "systemd"
units_before=$CHANGED
for unit in floreyn-server.service floreyn-uploads.service floreyn-backup.service floreyn-backup.timer \
        floreyn-budget-expire.service floreyn-budget-expire.timer floreyn-housekeeping.service floreyn-housekeeping.timer; do
    put_file "$HERE/server/$unit" "/etc/systemd/system/$unit" 0644
done
if [ "$CHANGED" != "$units_before" ]; then live systemctl daemon-reload; fi
if [ "$DO_ENABLE" = 1 ]; then
    live systemctl enable --now floreyn-backup.timer
    live systemctl enable --now floreyn-budget-expire.timer
    live systemctl enable --now floreyn-housekeeping.timer
    live systemctl enable floreyn-server.service
    live systemctl start floreyn-server.service
elif [ "$was_active" = 1 ]; then
    live systemctl start floreyn-server.service
fi
if [ "$uploads_active" = 1 ]; then live systemctl start floreyn-uploads.service; fi

log ""
log "Next: a reverse proxy with TLS in front of 127.0.0.1:8470 ($CONF_DIR/Caddyfile.example), then"
log "  curl -s https://floreyn.example.nl/v1/health"
log "  sudo cat $DATA_DIR/admin_token        # the bootstrap admin token, for floreyn-provision init"
log "  save $DATA_DIR/server_key.pem off this machine, once (docs/operations.md \"Backups\")"
log "done"
