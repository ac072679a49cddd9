#!/usr/bin/env bash
# Shared by the hooks: paths, logging, and the release id of this CodeDeploy deployment.
set -euo pipefail

APP=shop
BASE=/opt/${APP}
INCOMING=${BASE}/incoming
RELEASES=${BASE}/releases
CURRENT=${BASE}/current
APP_USER=${APP}
RELEASE=${DEPLOYMENT_ID:-manual-$(date +%s)}   # CodeDeploy sets DEPLOYMENT_ID
KEEP_RELEASES=5
NGINX_STATUS=http://127.0.0.1:8081/nginx_status  # stub_status, loopback only
HEALTH=http://127.0.0.1/health/deep              # through nginx, like the ALB

log() { echo "[$(date -u +%H:%M:%S)] ${LIFECYCLE_EVENT:-hook} ${RELEASE}: $*"; }

pm2_as_app() { sudo -u "${APP_USER}" -H pm2 "$@"; }
