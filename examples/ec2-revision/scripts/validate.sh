#!/usr/bin/env bash
# ValidateService: the instance is good only if, through nginx like the ALB reaches it,
# the deep health check passes (the app checks its own dependencies: database, cache,
# queues) and reports this release's version, and every PM2 process is online.
# A failure fails the CodeDeploy deployment, and the bluegreen switch moves no traffic.
source "$(dirname "$0")/common.sh"
expected=$(cat "${CURRENT}/VERSION")
ATTEMPTS=${ATTEMPTS:-30}

for attempt in $(seq 1 "${ATTEMPTS}"); do
  body=$(curl -fsS --max-time 5 "${HEALTH}" || true)
  if [[ "${body}" == *"\"version\":\"${expected}\""* && "${body}" == *'"status":"ok"'* ]]; then
    break
  fi
  if (( attempt == ATTEMPTS )); then
    log "deep health check failed after ${ATTEMPTS} attempts: ${body:-no answer}"
    exit 1
  fi
  sleep 5
done

offline=$(pm2_as_app jlist | python3 -c 'import json,sys; print(sum(p["pm2_env"]["status"] != "online" for p in json.load(sys.stdin)))')
if (( offline > 0 )); then
  log "${offline} PM2 process(es) not online"
  exit 1
fi
log "healthy: version ${expected}, every process online"
