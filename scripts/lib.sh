# Shared helpers of scripts/setup and scripts/test (sourced, not run).
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts libvirtd)"
}

# ensure_apt_packages PKG...: install those not installed yet; no apt at all when all are there.
ensure_apt_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ensure_venv: .venv from Debian's python3 with requirements-dev.txt, redone only when the requirements change.
ensure_venv() {
    local stamp="$VENV/.requirements.sha256" want
    want=$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    log "creating the virtualenv $VENV"
    [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
    echo "$want" >"$stamp"
}

# ensure_postgres: a running PostgreSQL with a role the API tests may create databases with.
# Installs Debian's postgresql when there is none; starts the cluster without systemd.
VMM_TEST_POSTGRES_URL="postgresql+psycopg://vmm_test:vmm_test@127.0.0.1:5432/postgres"
ensure_postgres() {
    ensure_apt_packages postgresql
    local version
    version=$(pg_lsclusters -h | awk 'NR == 1 {print $1}')
    if [ -z "$version" ]; then
        version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        pg_createcluster "$version" main
    fi
    if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
        log "starting PostgreSQL $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start
    fi
    runuser -u postgres -- psql -qAt -c "SELECT 1 FROM pg_roles WHERE rolname = 'vmm_test'" | grep -q 1 ||
        runuser -u postgres -- psql -q -c "CREATE ROLE vmm_test LOGIN CREATEDB PASSWORD 'vmm_test'"
    export VMM_TEST_POSTGRES="$VMM_TEST_POSTGRES_URL"
}

# The jobs API of the README's first command: 127.0.0.1, SQLite under /var/lib/vmm/api.
VMM_API_HOST=127.0.0.1
VMM_API_PORT=8470
VMM_API_URL="http://$VMM_API_HOST:$VMM_API_PORT"
VMM_API_LOG=/var/log/vmm/api.log
VMM_API_PIDFILE=/run/vmm-api.pid
VMM_API_WORK_PIDFILE=/run/vmm-api-work.pid

api_answers() { python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "$VMM_API_URL/api/v1/openapi.json" 2>/dev/null; }

# private_log FILE: FILE made if missing and 0600 (an existing one's mode fixed). Its directory keeps
# its mode: /var/log/vmm also holds the VMs' console logs.
private_log() {
    mkdir -p "$(dirname "$1")"
    (umask 077 && : >>"$1")
    chmod 0600 "$1"
}

# ensure_api: the API in the background, as two processes sharing the database: `serve` answering
# requests (VMM_API_WORKERS=0) and `work` running the jobs, so requests never wait on jobs' work. Each is
# kept if it already runs; their log is root's alone.
ensure_api() {
    private_log "$VMM_API_LOG"  # also the log of an API already running
    ensure_job_service
    api_answers && return 0
    (cd "$ROOT" && VMM_API_WORKERS=0 exec setsid "$VENV/bin/python" -m api serve --host "$VMM_API_HOST" \
        --port "$VMM_API_PORT" </dev/null >>"$VMM_API_LOG" 2>&1) &
    echo $! >"$VMM_API_PIDFILE"
    local i
    for i in $(seq 1 100); do
        api_answers && return 0
        sleep 0.2
    done
    tail -n 20 "$VMM_API_LOG" >&2
    die "the API did not come up on $VMM_API_URL (log: $VMM_API_LOG)"
}

ensure_job_service() {
    local pid
    pid=$(cat "$VMM_API_WORK_PIDFILE" 2>/dev/null) || pid=
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-m api work"; then
        return 0
    fi
    (cd "$ROOT" && exec setsid "$VENV/bin/python" -m api work </dev/null >>"$VMM_API_LOG" 2>&1) &
    echo $! >"$VMM_API_WORK_PIDFILE"
}

# ensure_admin_token: prints the path of a file holding a working admin token (made once, kept 0600).
ensure_admin_token() {
    local file=/var/lib/vmm/api/admin.token
    if [ -s "$file" ] && python3 -c "
import sys, urllib.request
token = open(sys.argv[2]).read().strip()
urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={'Authorization': 'Bearer ' + token}), timeout=5)
" "$VMM_API_URL/api/v1/me" "$file" 2>/dev/null; then
        echo "$file"
        return 0
    fi
    (umask 077 && cd "$ROOT" && "$VENV/bin/python" -m api token create --user admin --role admin 2>/dev/null |
        tail -n 1 >"$file")
    echo "$file"
}
