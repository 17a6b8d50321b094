# Sourced by scripts/common.sh.  PostgreSQL releases that Debian 12 does not package are tested
# in a minimal root of the Debian release that does (debootstrap, then apt inside it).  The
# calling script (test/run, demo/run, bench/*) re-runs itself inside that root, in a private
# mount namespace, with the checkout bind-mounted at /crmpool/src: nothing is mounted on the host
# after it ends, and several runs can share one root.
#
# The archive address is read from the host's own apt configuration at run time.  Roots are
# kept under CRMPOOL_ROOTS (default /var/tmp/crmpool-roots) and reused by later runs; a fresh
# machine builds them (about 2 minutes each).  A kept root is never upgraded: it tests the minor
# release that was current when it was built (delete it to test the archive's newest, as CI on a
# fresh machine does).

# root_suite PGMAJOR: the Debian release whose archive packages that PostgreSQL.
root_suite() {
	case $1 in
	17) echo trixie ;;
	18) echo forky ;;
	*) return 1 ;;
	esac
}

# host_mirror: the Debian archive the host's apt already uses (its bookworm main component).
host_mirror() {
	apt-cache policy | awk '$3 ~ /^bookworm\/main$/ && $2 !~ /security/ { print $2; exit }'
}

# ensure_root PGMAJOR: build (once) a root with PostgreSQL PGMAJOR and the test tools; sets ROOT.
ensure_root() {
	local major=$1 suite mirror script pkgs stamp
	# never an empty suite: ROOT would be the directory of every root, which a build removes
	suite=$(root_suite "$major") || {
		echo "PostgreSQL $major is not tested in a Debian root (17 or 18)" >&2
		exit 1
	}
	ROOT="${CRMPOOL_ROOTS:-/var/tmp/crmpool-roots}/$suite"
	pkgs="postgresql-$major postgresql-server-dev-$major postgresql-$major-cron libipc-run-perl rsync make gcc"
	stamp="$ROOT/.crmpool-root"
	mkdir -p "$(dirname "$ROOT")"
	# One builder at a time per root; later runs find the stamp and go on at once.
	exec 9>"$ROOT.lock"
	flock 9
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$pkgs" ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "PostgreSQL $major is tested in a Debian $suite root, which only root can build" >&2
			exit 1
		fi
		command -v debootstrap >/dev/null || {
			log "installing debootstrap"
			apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
		}
		mirror=$(host_mirror)
		[ -n "$mirror" ] || { echo "no Debian archive found in the host's apt sources" >&2; exit 1; }
		# forky has no debootstrap script of its own in Debian 12; sid's fits it.
		script=/usr/share/debootstrap/scripts/$suite
		[ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
		log "building a minimal Debian $suite root in $ROOT (PostgreSQL $major)"
		rm -rf "$ROOT"
		debootstrap --variant=minbase "$suite" "$ROOT" "$mirror" "$script" >"$ROOT.log" 2>&1 || {
			tail -n 30 "$ROOT.log" >&2
			exit 1
		}
		# Packages must not start services in the root, and no main cluster is wanted.
		printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
		chmod +x "$ROOT/usr/sbin/policy-rc.d"
		mkdir -p "$ROOT/etc/postgresql-common"
		echo 'create_main_cluster = false' >"$ROOT/etc/postgresql-common/createcluster.conf"
		# The archive's Release files for testing releases are not always refreshed here.
		echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99crmpool"
		in_root_ns "$ROOT" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq -o Dpkg::Options::=--force-confold --no-install-recommends $pkgs" \
			>>"$ROOT.log" 2>&1 || {
			tail -n 30 "$ROOT.log" >&2
			exit 1
		}
		echo "$pkgs" >"$stamp"
	fi
	exec 9>&-
}

# in_root_ns ROOT CMD...: run CMD chrooted into ROOT, with /proc, /dev and (when set) the
# checkout and shared/ mounted, in a mount namespace of its own.
in_root_ns() {
	local root=$1
	shift
	unshare --mount --propagation private -- sh -c '
		root=$1; src=$2; shared=$3; shift 3
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		if [ -n "$src" ]; then
			mkdir -p "$root/crmpool/src" "$root/crmpool/shared"
			mount --bind "$src" "$root/crmpool/src"
			[ -d "$shared" ] && mount --bind "$shared" "$root/crmpool/shared"
		fi
		exec chroot "$root" "$@"
	' in_root_ns "$root" "${ROOT_SRC:-}" "${ROOT_SHARED:-}" "$@"
}

# run_in_root SCRIPT [ARG...]: re-run SCRIPT (a path inside the checkout) in the root for
# PGMAJOR, passing on the crmpool settings of the environment.
run_in_root() {
	local script=$1 rel v
	shift
	ensure_root "$PGMAJOR"
	rel=${script#"$SRC_DIR"/}
	ROOT_SRC=$SRC_DIR ROOT_SHARED=$(cd "$SRC_DIR/.." && pwd)/shared
	local envs=(CRMPOOL_IN_ROOT=1 "CRMPOOL_PG=$PGMAJOR" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
	for v in $(compgen -e); do
		case $v in CRMPOOL_*|CI) envs+=("$v=${!v}") ;; esac
	done
	log "running $rel in the Debian $(root_suite "$PGMAJOR") root $ROOT (PostgreSQL $PGMAJOR)"
	ROOT_SRC=$ROOT_SRC ROOT_SHARED=$ROOT_SHARED in_root_ns "$ROOT" env -i "${envs[@]}" bash "/crmpool/src/$rel" "$@"
}
