#!/bin/sh
# A throw-away PostgreSQL cluster for tests and demos (Debian's postgresql package).
#   scripts/pg-throwaway.sh start DIR [PORT]   → prints the store's address, postgres://argus@127.0.0.1:PORT/argus
#   scripts/pg-throwaway.sh stop DIR
# The cluster trusts local connections (loopback and its socket in DIR only) and is gone with DIR.
set -eu
cmd=${1:?start or stop}; dir=${2:?a directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 2; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
    port=${3:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    chmod 700 "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -U argus --auth=trust -E UTF8 --no-sync >/dev/null
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U argus argus
    echo "$port" > "$dir/port"
    echo "postgres://argus@127.0.0.1:$port/argus"
    ;;
stop)
    [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
*) echo "start or stop" >&2; exit 2 ;;
esac
