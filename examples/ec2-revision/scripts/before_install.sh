#!/usr/bin/env bash
# BeforeInstall: an empty landing directory, and the layout the release needs.
source "$(dirname "$0")/common.sh"
rm -rf "${INCOMING}"
install -d -o "${APP_USER}" -g "${APP_USER}" "${INCOMING}" "${RELEASES}" "${BASE}/shared/logs"
log "ready for the new files"
