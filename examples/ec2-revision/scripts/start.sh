#!/usr/bin/env bash
# ApplicationStart: point `current` at the release, then reload without dropping a request:
# PM2 replaces processes one by one (cluster mode, wait_ready: a new process must say
# "ready" before the old one gets SIGINT and kill_timeout to finish its requests), and
# nginx reloads its config gracefully (old workers finish their connections).
source "$(dirname "$0")/common.sh"
ln -sfn "${RELEASES}/${RELEASE}" "${CURRENT}.next"
mv -T "${CURRENT}.next" "${CURRENT}"   # atomic switch of the symlink
cd "${CURRENT}"
if pm2_as_app describe "${APP}" >/dev/null 2>&1; then
  pm2_as_app reload config/ecosystem.config.js --update-env
else
  pm2_as_app start config/ecosystem.config.js
fi
pm2_as_app save
systemctl reload nginx
log "serving $(cat "${CURRENT}/VERSION" 2>/dev/null || echo "${RELEASE}")"
