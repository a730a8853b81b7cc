#!/bin/bash
# Debian package post-install for Nestbox. electron-builder fills in ${executable} and
# ${sanitizedProductName}; this replaces its default script, so it does the same set-up
# (command on PATH, Chromium sandbox, desktop database) and then explains KVM access.

app_dir='/opt/${sanitizedProductName}'

# `nestbox` on PATH, through alternatives where available.
if type update-alternatives >/dev/null 2>&1; then
    update-alternatives --install '/usr/bin/${executable}' '${executable}' "$app_dir/${executable}" 100 \
        || ln -sf "$app_dir/${executable}" '/usr/bin/${executable}'
else
    ln -sf "$app_dir/${executable}" '/usr/bin/${executable}'
fi

# Chromium's sandbox needs the setuid helper only where unprivileged user namespaces are off.
if [ -L /proc/self/ns/user ] && unshare --user true 2>/dev/null; then
    chmod 0755 "$app_dir/chrome-sandbox" || true
else
    chmod 4755 "$app_dir/chrome-sandbox" || true
fi

# Ubuntu 24.04+ restricts user namespaces through AppArmor; install the bundled profile
# when this AppArmor understands it.
profile_source="$app_dir/resources/apparmor-profile"
if [ -f "$profile_source" ] && apparmor_status --enabled >/dev/null 2>&1 \
    && apparmor_parser --skip-kernel-load --debug "$profile_source" >/dev/null 2>&1; then
    cp -f "$profile_source" '/etc/apparmor.d/${executable}'
    if ! { [ -x /usr/bin/ischroot ] && /usr/bin/ischroot; }; then
        apparmor_parser --replace --write-cache --skip-read-cache '/etc/apparmor.d/${executable}' || true
    fi
fi

if hash update-desktop-database 2>/dev/null; then
    update-desktop-database /usr/share/applications || true
fi

cat <<'NOTE'

Nestbox runs virtual machines with KVM (/dev/kvm). Each user who runs Nestbox must be in
the "kvm" group:

    sudo usermod -aG kvm $USER

then log out and back in. If /dev/kvm does not exist, enable virtualization (Intel VT-x or
AMD-V) in the firmware settings and load the kvm_intel or kvm_amd module.

NOTE
exit 0
