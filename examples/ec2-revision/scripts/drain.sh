#!/usr/bin/env bash
# ApplicationStop: let in-flight requests finish before anything is replaced.
# The instance belongs to the idle colour (weight 0), so new requests stop arriving; the
# ALB may still hold keep-alive connections from before the last switch. Wait until
# nginx reports no active connection but ours, or DRAIN_SECONDS pass (keep it above the
# target group's deregistration delay).
source "$(dirname "$0")/common.sh"
DRAIN_SECONDS=${DRAIN_SECONDS:-300}

active() { curl -fsS "${NGINX_STATUS}" 2>/dev/null | awk '/^Active connections/ {print $3}'; }

if ! systemctl is-active --quiet nginx; then
  log "nginx not running: nothing to drain"
  exit 0
fi
deadline=$((SECONDS + DRAIN_SECONDS))
while (( SECONDS < deadline )); do
  connections=$(active || echo 0)
  if (( ${connections:-0} <= 1 )); then   # 1 = this status request itself
    log "drained"
    exit 0
  fi
  log "${connections} connection(s) still active"
  sleep 5
done
log "drain timeout after ${DRAIN_SECONDS}s: continuing (requests left will be retried by clients)"
