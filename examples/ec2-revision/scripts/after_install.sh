#!/usr/bin/env bash
# AfterInstall: build the release next to the running one; nothing restarts yet, so a
# failure here leaves the instance serving the previous release.
source "$(dirname "$0")/common.sh"
target=${RELEASES}/${RELEASE}
rm -rf "${target}"
cp -a "${INCOMING}" "${target}"
chown -R "${APP_USER}:${APP_USER}" "${target}"
sudo -u "${APP_USER}" -H bash -c "cd '${target}' && npm ci --omit=dev --no-audit --no-fund"
install -m 644 "${target}/config/nginx-shop.conf" /etc/nginx/conf.d/shop.conf
nginx -t   # a broken config fails the deployment here, before any reload
log "release built in ${target}"
# keep the last few releases for a fast manual rollback
ls -1dt "${RELEASES}"/*/ | tail -n +$((KEEP_RELEASES + 1)) | xargs -r rm -rf
