# Shared by test/run, demo/run and bench/*: install dependencies, make a private build tree
# that an unprivileged user can write, and run commands as that user.
#
# CRMPOOL_PG picks the PostgreSQL major version: 15 (the default, Debian 12's own), 17 or 18.
# Those two are not packaged for Debian 12: the calling script re-runs itself inside a minimal
# root of the Debian release that packages them (scripts/debian_root.sh).
#
# The build tree holds a private copy of the PostgreSQL installation (bin, lib, share and
# the server headers: about 60 MB).  PostgreSQL finds its files relative to its binaries, so `make install` goes into that
# copy: nothing is installed into the system, and several checkouts can be tested side by side.
set -euo pipefail

PGMAJOR=${CRMPOOL_PG:-15}
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CRMPOOL_USER:=postgres}"
# gettext: msgfmt builds the translations (po/); locales: zh_CN.UTF-8, which the test of the
# Chinese messages sets as lc_messages (install_deps generates it).
DEPS="postgresql-$PGMAJOR postgresql-server-dev-$PGMAJOR postgresql-$PGMAJOR-cron libipc-run-perl rsync make gcc gettext locales"
# Locales the tests use, beyond C.UTF-8 (locale -a spells them in lower case without the dash).
LOCALES="zh_CN.UTF-8"

log() { printf '\n==> %s\n' "$*"; }

source "$SRC_DIR/scripts/debian_root.sh"
case $PGMAJOR in
15) ;;
17 | 18)
	# Sourced without arguments, this file sees the calling script's own "$0" and "$@".
	if [ -z "${CRMPOOL_IN_ROOT:-}" ]; then
		run_in_root "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$@"
		exit $?
	fi
	;;
*)
	echo "crmpool is tested on PostgreSQL 15, 17 and 18; CRMPOOL_PG=$PGMAJOR is none of them" >&2
	exit 2
	;;
esac

# install_deps [PACKAGE...]: apt packages (these and DEPS), when running as root and any is missing.
install_deps() {
	local pkgs="$DEPS $*" missing=0 p
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing=1
	done
	if [ "$missing" = 1 ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "missing packages; run as root or install: $pkgs" >&2
			exit 1
		fi
		log "installing packages: $pkgs"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
		# Debian's postgresql-common starts a main cluster on install; we never use it.  Only
		# the one this install started is stopped: a main cluster that was there before is
		# someone's server (test/t/023_host_clusters.pl).
		if command -v pg_ctlcluster >/dev/null; then
			pg_ctlcluster "$PGMAJOR" main stop >/dev/null 2>&1 || true
		fi
	fi
	local loc missing_locales=()
	for loc in $LOCALES; do
		locale -a | grep -qix "$(echo "$loc" | sed 's/UTF-8/utf8/')" || missing_locales+=("$loc")
	done
	if [ ${#missing_locales[@]} -gt 0 ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "missing locales; run as root or generate: ${missing_locales[*]}" >&2
			exit 1
		fi
		log "generating locales: ${missing_locales[*]}"
		for loc in "${missing_locales[@]}"; do
			grep -qx "$loc UTF-8" /etc/locale.gen 2>/dev/null || echo "$loc UTF-8" >>/etc/locale.gen
		done
		locale-gen >/dev/null
	fi
}

# as_user CMD...: run CMD as the unprivileged user (or as ourselves when not root).
as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$CRMPOOL_USER" -- env PATH="$PGBIN:$PATH" HOME=/tmp "$@"
	else
		env PATH="$PGBIN:$PATH" "$@"
	fi
}

# prepare_build DIR: copy the source and a private PostgreSQL tree into DIR, owned by the user.
prepare_build() {
	BUILD_DIR=$1
	local pgroot="$BUILD_DIR/pg"
	mkdir -p "$BUILD_DIR/src"
	if [ ! -x "$pgroot/lib/postgresql/$PGMAJOR/bin/postgres" ]; then
		mkdir -p "$pgroot/lib/postgresql" "$pgroot/share/postgresql" "$pgroot/include"
		cp -a "/usr/lib/postgresql/$PGMAJOR" "$pgroot/lib/postgresql/"
		cp -a "/usr/share/postgresql/$PGMAJOR" "$pgroot/share/postgresql/"
		cp -a /usr/include/postgresql "$pgroot/include/"
	fi
	# --delete-excluded drops old objects too: the Makefile tracks header dependencies by
	# time, and a copy's times are the worktree's (an older file checked out keeps an older
	# time), so a stale .o could survive.  A build is a few seconds.
	rsync -a --delete --delete-excluded --exclude .git --exclude 'tmp_check*' --exclude output_iso \
		--exclude results --exclude '*.o' --exclude '*.d' --exclude '*.so' --exclude '*.bc' \
		"$SRC_DIR/" "$BUILD_DIR/src/"
	# shared/ sits beside the checkout; benches read its data.
	if [ -d "$SRC_DIR/../shared" ]; then
		rsync -a --delete "$SRC_DIR/../shared/" "$BUILD_DIR/shared/"
	fi
	if [ "$(id -u)" = 0 ]; then
		chown -R "$CRMPOOL_USER" "$BUILD_DIR"
	fi
	PGBIN="$pgroot/lib/postgresql/$PGMAJOR/bin"
	PG_CONFIG="$PGBIN/pg_config"
	export PGBIN PG_CONFIG BUILD_DIR
}

# build_install: compile with warnings as errors and install into the private tree.
build_install() {
	log "building crmpool (warnings are errors)"
	as_user make -C "$BUILD_DIR/src" -s PG_CONFIG="$PG_CONFIG" WERROR=1
	as_user make -C "$BUILD_DIR/src" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# start_cluster DIR PORT [SETTING...]: a throwaway cluster in DIR (UTF-8, locale C.UTF-8, so
# that pg_trgm sees Chinese as word characters) with crmpool preloaded and the given
# postgresql.conf lines, listening only on a socket in DIR, so the port never clashes with a
# server outside.  It is stopped when the calling script exits.
start_cluster() {
	CLUSTER_DIR=$1
	CLUSTER_PORT=$2
	shift 2
	stop_cluster
	rm -rf "$CLUSTER_DIR"
	as_user initdb -D "$CLUSTER_DIR" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
	{
		echo "shared_preload_libraries = 'crmpool'"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$CLUSTER_DIR'"
		echo "port = $CLUSTER_PORT"
		printf '%s\n' "$@"
	} >>"$CLUSTER_DIR/postgresql.conf"
	trap stop_cluster EXIT
	as_user pg_ctl -D "$CLUSTER_DIR" -l "$CLUSTER_DIR/server.log" -w start >/dev/null
}

stop_cluster() {
	if [ -n "${CLUSTER_DIR:-}" ] && [ -f "$CLUSTER_DIR/postmaster.pid" ]; then
		as_user pg_ctl -D "$CLUSTER_DIR" -m fast -w stop >/dev/null 2>&1 || true
	fi
}

# psql_cluster DB [ARG...]: psql on the cluster of start_cluster, stopping at the first error.
psql_cluster() {
	local db=$1
	shift
	as_user psql -X -q -v ON_ERROR_STOP=1 -h "$CLUSTER_DIR" -p "$CLUSTER_PORT" -U postgres -d "$db" "$@"
}
