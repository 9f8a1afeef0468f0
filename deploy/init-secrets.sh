#!/bin/sh
# Makes the files compose.yaml mounts as secrets, in ./secrets (or the folder given), as root:
#
#   postgres_password  the superuser's (postgres image, uid 999)        999:999    0400
#   kura_db_password   kura_owner's (Kura, uid 10001; postgres at init) 10001:999  0440
#   audit.key          encrypts audit text (Kura)                       10001:10001 0400
#   checkpoint.key     signs checkpoints and retention anchors (Kura)   10001:10001 0400
#   old-keys/          retired audit keys, <key_id>.key (Kura)          10001:10001 0500, files 0400
#
# Compose bind-mounts secret files as they are, so these owners and modes are what the containers
# see; the folder itself is root's, 0700, so nobody else on the host reads them. An existing file is
# never replaced (a new audit key would make old records unreadable): only its owner and mode are set.
# Keep a copy of both keys outside this host: without them the audit text and checkpoints are lost.
set -eu

dir="${1:-secrets}"
if [ "$(id -u)" != 0 ]; then
    echo "init-secrets.sh: run as root (sudo): the files are given to the containers' users" >&2
    exit 1
fi
umask 077
mkdir -p "$dir"
chown 0:0 "$dir"
chmod 0700 "$dir"

# put FILE KIND OWNER MODE: KIND "password" is 32 random bytes as hex text, "key" 32 raw random bytes.
put() {
    if [ ! -e "$dir/$1" ]; then
        if [ "$2" = password ]; then
            head -c 32 /dev/urandom | od -An -vtx1 | tr -d ' \n' > "$dir/$1.part"
            echo >> "$dir/$1.part"
        else
            head -c 32 /dev/urandom > "$dir/$1.part"
        fi
        mv "$dir/$1.part" "$dir/$1"
        echo "created $dir/$1"
    fi
    chown "$3" "$dir/$1"
    chmod "$4" "$dir/$1"
}

put postgres_password password 999:999 0400
put kura_db_password password 10001:999 0440
put audit.key key 10001:10001 0400
put checkpoint.key key 10001:10001 0400
mkdir -p "$dir/old-keys"
chown -R 10001:10001 "$dir/old-keys"
find "$dir/old-keys" -type f -exec chmod 0400 {} +
chmod 0500 "$dir/old-keys"
