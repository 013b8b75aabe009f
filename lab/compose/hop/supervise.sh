#!/bin/sh
# The compose `hop` service's entry point: HAProxy under a minimal supervisor, so the lab can
# restart HAProxy the way the native lab does (SIGTERM, HAProxy's hard stop, then start it again)
# while the container, and with it the hop's address on the compose network, stays up.
#
#   supervise.sh run haproxy -db -f <cfg>   start HAProxy; start it again when a restart asked for
#                                           it, else exit with its status (a bad config still
#                                           stops the container)
#   supervise.sh restart                    (docker compose exec) stop the running HAProxy and
#                                           return once its successor has been started
#
# Why not `docker compose restart hop`: that tears the container's network namespace down, so for
# the second or two it takes, the hop's address answers nothing. Clients' SYNs then go unanswered
# (not refused) and retransmit on the kernel's 1 s, 3 s schedule, so reconnects bunch on that
# schedule and not on their backoff: the reconnect-storm drill would measure the restart, not the
# clients. Here connections drop at once, and new ones are refused until HAProxy listens again.
#
# SIGTERM, SIGINT and SIGUSR1 (the image's stop signal, HAProxy's soft stop) go to HAProxy and end
# the supervisor.
#
# HOP_STATE_DIR (default /tmp) holds its pid file and restart flag.
set -u
state=${HOP_STATE_DIR:-/tmp}
pidfile=$state/hop-haproxy.pid
wanted=$state/hop-haproxy.restart

case "${1:-}" in
restart)
  old=$(cat "$pidfile")
  : >"$wanted"
  kill -TERM "$old"
  while [ "$(cat "$pidfile" 2>/dev/null)" = "$old" ]; do sleep 0.05; done
  exit 0
  ;;
run) shift ;;
*)
  echo "usage: supervise.sh run <command...> | supervise.sh restart" >&2
  exit 2
  ;;
esac

stopping=
pid=
forward() {
  stopping=1
  [ -n "$pid" ] && kill "-$1" "$pid" 2>/dev/null
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward USR1' USR1

while :; do
  "$@" &
  pid=$!
  echo "$pid" >"$pidfile"
  # `wait` returns early when a trapped signal arrives; wait again until HAProxy has exited.
  while :; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break
  done
  [ -n "$stopping" ] && exit 0
  [ -f "$wanted" ] || exit "$rc"
  rm -f "$wanted"
done
