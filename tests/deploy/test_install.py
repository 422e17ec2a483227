"""The install scripts: shell-clean, idempotent, and what they lay down is consistent.

They run here for real into a staging root (DESTDIR): every file, folder and
mode they install is checked, a second run changes nothing (not even a
modification time), an admin's edit to a config file survives, a tampered
unit is put back. What needs the live system (apt, useradd, systemctl,
udevadm) is skipped by the scripts themselves when staging.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SCRIPTS = [DEPLOY / "install-terminal.sh", DEPLOY / "install-server.sh", DEPLOY / "install-lib.sh"]


def run(script: str, root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("PREFIX",)}
    environ.update(DESTDIR=str(root), **env)
    return subprocess.run(["bash", str(DEPLOY / script), "--no-venv", *args], env=environ, capture_output=True,
                          text=True, timeout=60)


def tree(root: Path) -> dict[str, tuple[str, str, int]]:
    """Every path under root: (mode, sha256 of a file, mtime in ns)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        out[str(p.relative_to(root))] = (stat.filemode(st.st_mode), digest, st.st_mtime_ns)
    return out


def test_scripts_pass_bash_n_and_shellcheck():
    for script in SCRIPTS:
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make sysdeps` installs it (Makefile APT_PACKAGES)"
    done = subprocess.run([shellcheck, "-x", *map(str, SCRIPTS)], capture_output=True, text=True, cwd=DEPLOY.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_server_install_lays_down_everything_and_a_second_run_changes_nothing(tmp_path):
    root = tmp_path / "root"
    first = run("install-server.sh", root)
    assert first.returncode == 0, first.stderr
    files = tree(root)
    expect = {
        "etc/floreyn": "drwxr-x---", "etc/floreyn/server.env": "-rw-r-----",
        "etc/floreyn/Caddyfile.example": "-rw-r--r--", "etc/floreyn/nginx-floreyn.conf.example": "-rw-r--r--",
        "etc/systemd/system/floreyn-server.service": "-rw-r--r--",
        "etc/systemd/system/floreyn-backup.service": "-rw-r--r--",
        "etc/systemd/system/floreyn-backup.timer": "-rw-r--r--",
        "etc/systemd/journald.conf.d/floreyn.conf": "-rw-r--r--", "etc/logrotate.d/floreyn": "-rw-r--r--",
        "var/lib/floreyn-server": "drwx------", "var/backups/floreyn": "drwx------", "opt/floreyn": "drwxr-xr-x",
        "opt/floreyn/docs/operations.md": "-rw-r--r--",
    }
    for path, mode in expect.items():
        assert files[path][0] == mode, (path, files[path][0])
    assert (root / "etc/systemd/system/floreyn-server.service").read_bytes() == \
        (DEPLOY / "server/floreyn-server.service").read_bytes()
    assert "(staging) skip user floreyn" in first.stderr and "skip: systemctl" in first.stderr

    second = run("install-server.sh", root)
    assert second.returncode == 0, second.stderr
    assert tree(root) == files and "installed" not in second.stderr

    env = root / "etc/floreyn/server.env"
    env.write_text("FLOREYN_SERVER_ARGS=--db postgresql://floreyn@db/floreyn\n")  # the admin's choice
    unit = root / "etc/systemd/system/floreyn-server.service"
    unit.write_text("[Service]\nExecStart=/bin/false\n")  # someone's hand edit of a file we own
    third = run("install-server.sh", root)
    assert third.returncode == 0, third.stderr
    assert env.read_text() == "FLOREYN_SERVER_ARGS=--db postgresql://floreyn@db/floreyn\n"
    assert unit.read_bytes() == (DEPLOY / "server/floreyn-server.service").read_bytes()


def test_server_install_with_postgresql_points_the_env_file_at_it(tmp_path):
    done = run("install-server.sh", tmp_path / "root", "--postgresql")
    assert done.returncode == 0, done.stderr
    env = (tmp_path / "root/etc/floreyn/server.env").read_text()
    assert "\nFLOREYN_SERVER_ARGS=--db postgresql://floreyn@/floreyn?host=/run/postgresql --workers 2\n" in env
    assert "(staging) skip apt: postgresql" in done.stderr


def test_terminal_install_lays_down_everything_idempotently_with_the_ups_overlay(tmp_path):
    root = tmp_path / "root"
    args = ("--gpio-shutdown", "17")
    first = run("install-terminal.sh", root, *args, BOOT_CONFIG="/boot/firmware/config.txt")
    assert first.returncode == 0, first.stderr
    files = tree(root)
    expect = {
        "etc/floreyn": "drwxr-x---", "etc/floreyn/terminal.env": "-rw-r-----", "var/lib/floreyn": "drwx------",
        "etc/systemd/system/floreyn-terminal.service": "-rw-r--r--", "etc/udev/rules.d/70-floreyn.rules": "-rw-r--r--",
        "etc/modprobe.d/floreyn-nfc.conf": "-rw-r--r--", "etc/polkit-1/rules.d/50-floreyn-poweroff.rules": "-rw-r--r--",
        "etc/systemd/journald.conf.d/floreyn.conf": "-rw-r--r--", "opt/floreyn/docs/operations.md": "-rw-r--r--",
    }
    for path, mode in expect.items():
        assert files[path][0] == mode, (path, files[path][0])
    boot = (root / "boot/firmware/config.txt").read_text()
    assert boot.count("dtoverlay=gpio-shutdown,gpio_pin=17,active_low=1,gpio_pull=up") == 1
    assert "floreyn-provision terminal enroll" in first.stderr  # not enrolled yet: says what comes next

    second = run("install-terminal.sh", root, *args, BOOT_CONFIG="/boot/firmware/config.txt")
    assert second.returncode == 0, second.stderr
    assert tree(root) == files

    bad = run("install-terminal.sh", root, "--gpio-shutdown", "17; rm -rf /")
    assert bad.returncode != 0 and "BCM GPIO number" in bad.stderr
    assert run("install-terminal.sh", root, "--frobnicate").returncode != 0


def test_without_destdir_the_scripts_want_root(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    deploy, cwd = DEPLOY, tmp_path
    if os.geteuid() == 0:  # as an ordinary user, which root can be for a moment
        # ... who must be able to read the scripts: the clone may sit in a folder only root can
        # enter (/root, `mktemp -d`), and so does pytest's tmp_path. A copy in a folder anyone may read.
        shared = Path(tempfile.mkdtemp(prefix="floreyn-install-test-"))
        try:
            deploy = shared / "deploy"
            shutil.copytree(DEPLOY, deploy)
            subprocess.run(["chmod", "-R", "a+rX", str(shared)], check=True, timeout=30)
            done = subprocess.run(["runuser", "-u", "nobody", "--", "bash", str(deploy / "install-server.sh"),
                                   "--no-venv"], capture_output=True, text=True, env=env, cwd=shared, timeout=60)
        finally:
            shutil.rmtree(shared)
    else:
        done = subprocess.run(["bash", str(deploy / "install-server.sh"), "--no-venv"],
                              capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    assert done.returncode != 0 and "run as root" in done.stderr, done.stderr


# -- the files agree with each other ------------------------------------------------------------------


UDEV_TOKEN = re.compile(r'^(?P<key>[A-Z_]+)(\{[A-Za-z0-9_]+\})?(?P<op>==|!=|\+=|:=|=)"(?P<value>[^"]*)"$')
UDEV_KEYS = {"SUBSYSTEM", "ACTION", "KERNEL", "ATTR", "ATTRS", "ENV", "MODE", "GROUP", "OWNER", "RUN", "IMPORT",
             "TAG", "SYMLINK"}


def test_udev_rules_are_well_formed_and_their_groups_are_the_tills():
    groups = set()
    for n, line in enumerate((DEPLOY / "terminal/70-floreyn.rules").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        tokens = [t.strip() for t in line.split('", ')]
        tokens = [t if t.endswith('"') else t + '"' for t in tokens]
        assert any(t.startswith(("SUBSYSTEM==", "KERNEL==")) for t in tokens), f"line {n} matches everything"
        for token in tokens:
            m = UDEV_TOKEN.match(token)
            assert m and m["key"] in UDEV_KEYS, f"line {n}: {token!r}"
            if m["key"] == "GROUP":
                groups.add(m["value"])
            if m["key"] == "MODE":
                assert m["value"] == "0660", f"line {n}: devices for a group, not for everyone"
    script = (DEPLOY / "install-terminal.sh").read_text()
    joined = set(re.search(r'ensure_user "\$DATA_DIR" (.*)$', script, re.M).group(1).split())
    assert groups and groups | {"video", "render", "input", "dialout", "lp"} <= joined  # the user is in them
    unit = (DEPLOY / "terminal/floreyn-terminal.service").read_text()
    assert "User=floreyn" in unit and "SupplementaryGroups" not in unit  # a missing group would stop the unit


def test_the_proxy_examples_point_at_the_units_port_and_allow_a_full_upload():
    unit = (DEPLOY / "server/floreyn-server.service").read_text()
    port = re.search(r"--port (\d+)", unit).group(1)
    assert "--host 127.0.0.1" in unit
    caddy = (DEPLOY / "server/Caddyfile").read_text()
    nginx = (DEPLOY / "server/nginx-floreyn.conf").read_text()
    assert f"reverse_proxy 127.0.0.1:{port}" in caddy and "max_size 2MB" in caddy
    assert nginx.count(f"proxy_pass http://127.0.0.1:{port};") == 2 and "client_max_body_size 2m;" in nginx
    assert "not remote_ip" in caddy and "deny all;" in nginx  # /metrics stays on the local network
    # Rate limits per client address (the server limits failed authentications itself: server/throttle.py).
    assert "limit_req zone=floreyn_per_address" in nginx and "limit_req_status 429;" in nginx
    assert "rate_limit {" in caddy and "key {remote_host}" in caddy
    from floreyn.server.config import DEFAULT_PORT, Limits

    assert int(port) == DEFAULT_PORT and Limits().max_body_bytes <= 2 * 1000 * 1000


def test_the_proxy_examples_can_send_the_uploads_to_their_own_process():
    """Commented out as shipped (floreyn-uploads.service is not enabled); uncommented, they name the upload
    route the server really has and the port the uploads unit listens on."""
    from floreyn.server.api_terminal import router

    upload = "/v1/terminal/upload"
    assert upload in {route.path for route in router.routes}  # type: ignore[attr-defined]
    port = re.search(r"--port (\d+)", (DEPLOY / "server/floreyn-uploads.service").read_text()).group(1)
    caddy = (DEPLOY / "server/Caddyfile").read_text()
    nginx = (DEPLOY / "server/nginx-floreyn.conf").read_text()
    assert f"\t#reverse_proxy {upload} 127.0.0.1:{port}\n" in caddy
    assert f"    #location = {upload} {{\n" in nginx and f"    #    proxy_pass http://127.0.0.1:{port};\n" in nginx


def test_logrotate_accepts_the_config(tmp_path):
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    assert Path(logrotate).exists(), "logrotate is missing: `make sysdeps` installs it (Makefile APT_PACKAGES)"
    conf = tmp_path / "floreyn"
    # `su floreyn floreyn` needs that user to exist; everything else is checked as written.
    conf.write_text((DEPLOY / "common/logrotate-floreyn").read_text().replace("su floreyn floreyn", "su root root"))
    done = subprocess.run([logrotate, "-d", "-s", str(tmp_path / "state"), str(conf)], capture_output=True, text=True)
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr
    conf.write_text(conf.read_text().replace("weekly", "weekly\n    rotatee 8"))  # a typo is seen
    bad = subprocess.run([logrotate, "-d", "-s", str(tmp_path / "state"), str(conf)], capture_output=True, text=True)
    assert "error" in bad.stderr.lower()
