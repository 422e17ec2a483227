#!/usr/bin/env bash
# Install or update a Floreyn till on Raspberry Pi OS Bookworm (64-bit). Run it again after an update:
# it changes only what differs and never overwrites /etc/floreyn/terminal.toml or terminal.env.
#
#   sudo deploy/install-terminal.sh [--source DIR|WHEEL] [--gpio-shutdown PIN] [--no-apt] [--no-enable]
#   DESTDIR=/tmp/stage deploy/install-terminal.sh --no-venv      # stage the files only (tests, packaging)
#
# What it sets up (docs/operations.md "Terminal install"):
#   apt packages     Python venv, the GL/DRM/input libraries Kivy's SDL needs, libusb, polkit
#   user floreyn     system user, in the groups for the screen, touch, card reader and printer
#   /opt/floreyn     the virtual environment with floreyn[terminal]
#   /etc/floreyn     terminal.toml (written by `floreyn-provision terminal enroll`), terminal.env
#   /var/lib/floreyn the till's data folder: store, key, Kivy home (0700)
#   udev, modprobe   card readers and printers usable without root; kernel NFC drivers kept off them
#   polkit           the till's user may power off (Shut down on the status screen), nothing more
#   journald         logs kept across power cuts, at most 64 MB
#   systemd          floreyn-terminal.service: full screen at boot, restarted after a crash
#   --gpio-shutdown  a UPS HAT's (or a button's) GPIO line powers the Pi off cleanly (config.txt overlay)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/install-lib.sh
. "$HERE/install-lib.sh"

SOURCE=$(dirname "$HERE")
SOURCE_DOCS=$(dirname "$HERE")/docs/operations.md  # the units' Documentation=
GPIO_PIN=""
CONF_DIR=/etc/floreyn
DATA_DIR=/var/lib/floreyn
BOOT_CONFIG=${BOOT_CONFIG:-/boot/firmware/config.txt}

while [ $# -gt 0 ]; do
    case $1 in
        --source) SOURCE=$2; shift ;;
        --gpio-shutdown) GPIO_PIN=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) parse_common_flag "$1" || die "unknown option $1 (see --help)" ;;
    esac
    shift
done
if [ -n "$GPIO_PIN" ] && ! [[ $GPIO_PIN =~ ^[0-9]{1,2}$ ]]; then
    die "--gpio-shutdown takes a BCM GPIO number, e.g. 17"
fi

need_root
log "Floreyn till: installing${DESTDIR:+ into $DESTDIR}"

log "apt packages"
# libgl1/libegl1/libgles2/libgbm1/libdrm2 + Mesa: SDL's kmsdrm driver; libmtdev1: the touch panel;
# libusb-1.0-0: nfcpy and pyusb; polkitd: the power-off rule; fonts-dejavu-core: euro sign on receipts.
apt_install python3 python3-venv libgl1 libegl1 libgles2 libgbm1 libdrm2 libegl-mesa0 libgl1-mesa-dri \
    libmtdev1 libusb-1.0-0 fonts-dejavu-core polkitd

log "user and folders"
ensure_user "$DATA_DIR" video render input plugdev dialout lp i2c gpio
make_dir "$CONF_DIR" 0750 "$FLOREYN_USER:$FLOREYN_USER"  # enroll, run as floreyn, writes terminal.toml here
make_dir "$DATA_DIR" 0700 "$FLOREYN_USER:$FLOREYN_USER"
make_dir "$PREFIX" 0755

log "virtual environment"
make_venv terminal "$SOURCE"

log "configuration, devices, power, logs"
put_file "$SOURCE_DOCS" "$PREFIX/docs/operations.md" 0644
put_once "$HERE/terminal/terminal.env" "$CONF_DIR/terminal.env" 0640 "root:$FLOREYN_USER"
rules_before=$CHANGED
put_file "$HERE/terminal/70-floreyn.rules" /etc/udev/rules.d/70-floreyn.rules 0644
put_file "$HERE/terminal/modprobe-floreyn-nfc.conf" /etc/modprobe.d/floreyn-nfc.conf 0644
put_file "$HERE/terminal/50-floreyn-poweroff.rules" /etc/polkit-1/rules.d/50-floreyn-poweroff.rules 0644
if [ "$CHANGED" != "$rules_before" ]; then
    live udevadm control --reload
    live udevadm trigger --subsystem-match=usb --subsystem-match=backlight --action=add
fi
journal_before=$CHANGED
put_file "$HERE/common/journald-floreyn.conf" /etc/systemd/journald.conf.d/floreyn.conf 0644
put_file "$HERE/common/logrotate-floreyn" /etc/logrotate.d/floreyn 0644
if [ "$CHANGED" != "$journal_before" ]; then live systemctl restart systemd-journald; fi

if [ -n "$GPIO_PIN" ]; then
    overlay="dtoverlay=gpio-shutdown,gpio_pin=$GPIO_PIN,active_low=1,gpio_pull=up"
    if [ -f "$DESTDIR$BOOT_CONFIG" ] && grep -qx "$overlay" "$DESTDIR$BOOT_CONFIG"; then
        log "  unchanged $BOOT_CONFIG ($overlay)"
    else
        mkdir -p "$(dirname "$DESTDIR$BOOT_CONFIG")"
        printf '\n# Floreyn: the UPS HAT / power button on GPIO %s powers off cleanly\n%s\n' "$GPIO_PIN" "$overlay" \
            >>"$DESTDIR$BOOT_CONFIG"
        log "  added to $BOOT_CONFIG: $overlay (active after a reboot)"
    fi
fi

log "systemd"
unit_before=$CHANGED
put_file "$HERE/terminal/floreyn-terminal.service" /etc/systemd/system/floreyn-terminal.service 0644
if [ "$CHANGED" != "$unit_before" ]; then live systemctl daemon-reload; fi
if [ "$DO_ENABLE" = 1 ]; then
    live systemctl enable floreyn-terminal.service
    # Starts only once enrolled (ConditionPathExists); after an update this picks up the new code.
    if ! staging && [ -f "$CONF_DIR/terminal.toml" ]; then live systemctl restart floreyn-terminal.service; fi
fi

if [ ! -f "$DESTDIR$CONF_DIR/terminal.toml" ]; then
    log ""
    log "Next: enroll this till (it writes $CONF_DIR/terminal.toml and makes the till's key), then start it:"
    log "  sudo -u $FLOREYN_USER FLOREYN_SERVER=https://floreyn.example.nl FLOREYN_TOKEN=... \\"
    log "    $PREFIX/venv/bin/floreyn-provision terminal enroll --terminal-id T-... --merchant M-... \\"
    log "    --config $CONF_DIR/terminal.toml --data-dir $DATA_DIR --reader usb --printer usb:VID:PID --operator Naam:manager"
    log "  sudo systemctl start floreyn-terminal"
fi
log "done"
