#!/usr/bin/env bash
# Makes sure a MariaDB server answers on 127.0.0.1:3306 for the
# adapters/mysqlstore tests (and for running the app locally with
# CLOUDPOST_STORAGE=mysql):
#
#   1. installs the Debian package mariadb-server when mariadbd is missing;
#   2. initialises the data directory when it is empty;
#   3. starts the server (--user=mysql) when it is not running, through
#      systemd when that works, else start-stop-daemon;
#   4. waits until it answers (up to 60s);
#   5. creates, if missing, the test user cloudpost_test (password
#      cloudpost, may create and drop databases named cpt_*) and the user
#      and database cloudpost/cloudpost for running the app.
#
# Idempotent: each step is skipped when already done, so a second run
# needs no root and takes a fraction of a second. The steps that are not
# done yet need root (apt-get, starting the server, creating users): as
# another user it uses sudo when that works without a password (or can ask
# for one on a terminal), else it stops and prints the command to run.
# Nothing is written to the repository; apt caches the package itself. The
# tests use CLOUDPOST_TEST_MYSQL_DSN, else root over TCP, else the
# cloudpost_test user this script creates.
set -euo pipefail

log() { echo "mariadb.sh: $*"; }
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
mkdir -p "$CACHE"

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [[ -t 2 ]]; }; then
		sudo "$@"
	else
		log "this step needs root ($1 ...) and sudo is not available without a password here;" >&2
		log "run once as root: sudo bash scripts/ci/mariadb.sh" >&2
		exit 1
	fi
}

if ! command -v mariadbd >/dev/null && [[ ! -x /usr/sbin/mariadbd ]]; then
	log "installing mariadb-server (apt-get)..."
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
	log "installed $(/usr/sbin/mariadbd --version 2>/dev/null | head -1)"
else
	log "mariadb-server already installed ($(/usr/sbin/mariadbd --version 2>/dev/null | head -1))"
fi

ping() { mariadb-admin --protocol=socket ping >/dev/null 2>&1 || mariadb-admin -h 127.0.0.1 -P 3306 ping >/dev/null 2>&1; }

if ping; then
	log "server already running"
else
	if [[ ! -d /var/lib/mysql/mysql ]]; then
		log "initialising the data directory"
		as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
	fi
	as_root install -d -o mysql -g mysql /run/mysqld
	if [[ -d /run/systemd/system ]] && as_root systemctl start mariadb 2>/dev/null; then
		log "started with systemctl"
	else
		as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
		log "started /usr/sbin/mariadbd --user=mysql with start-stop-daemon"
	fi
	for i in $(seq 1 120); do
		ping && break
		if [[ $i -eq 120 ]]; then
			log "the server did not answer within 60s" >&2
			exit 1
		fi
		sleep 0.5
	done
	log "server answers"
fi

# Users and databases, created over the local socket as root, unless both
# users can already log in (then nothing here needs root).
if mariadb -ucloudpost_test -pcloudpost -h 127.0.0.1 -N -e 'SELECT 1' >/dev/null 2>&1 &&
	mariadb -ucloudpost -pcloudpost -h 127.0.0.1 -N -e 'SELECT 1' cloudpost >/dev/null 2>&1; then
	log "users cloudpost_test and cloudpost already set up"
else
as_root mariadb --protocol=socket -uroot <<'SQL'
CREATE USER IF NOT EXISTS 'cloudpost_test'@'localhost' IDENTIFIED BY 'cloudpost';
CREATE USER IF NOT EXISTS 'cloudpost_test'@'127.0.0.1' IDENTIFIED BY 'cloudpost';
GRANT ALL PRIVILEGES ON `cpt\_%`.* TO 'cloudpost_test'@'localhost';
GRANT ALL PRIVILEGES ON `cpt\_%`.* TO 'cloudpost_test'@'127.0.0.1';
CREATE DATABASE IF NOT EXISTS cloudpost CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'cloudpost'@'localhost' IDENTIFIED BY 'cloudpost';
CREATE USER IF NOT EXISTS 'cloudpost'@'127.0.0.1' IDENTIFIED BY 'cloudpost';
GRANT ALL PRIVILEGES ON cloudpost.* TO 'cloudpost'@'localhost';
GRANT ALL PRIVILEGES ON cloudpost.* TO 'cloudpost'@'127.0.0.1';
SQL
fi
log "test user: CLOUDPOST_TEST_MYSQL_DSN='cloudpost_test:cloudpost@tcp(127.0.0.1:3306)/'"
log "app: CLOUDPOST_STORAGE=mysql CLOUDPOST_MYSQL_DSN='cloudpost:cloudpost@tcp(127.0.0.1:3306)/cloudpost'"
log "$(mariadb -ucloudpost_test -pcloudpost -h 127.0.0.1 -N -e 'SELECT VERSION()') ready on 127.0.0.1:3306"
