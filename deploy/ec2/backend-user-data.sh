#!/bin/bash
# EC2 user data for a backend that registers itself with pilb (a launch
# template for an Auto Scaling group). It runs the demo backend,
# pilb-backend, which registers with the proxy's admin API, refreshes its
# registration every third of its ttl, and on SIGTERM (scale-in, shutdown)
# deregisters, waits for the proxy to close its connections and exits: the
# proxy sends it nothing new from the moment it deregisters. An instance
# that dies stops refreshing and is dropped after its ttl.
#
# A real application registers the same way: run `pilb-backend -register`
# beside it with -advertise :APPPORT, or POST /backends from its own start
# script (README, "Admin API").
set -euo pipefail

BUCKET=my-pilb-bucket
TOKEN_PARAM=/pilb/admin-token
PROXY=http://10.0.1.2:9090   # the proxy's private address and -admin port
POOL=api
PORT=5000

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
imds_token=$(curl -sS -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
instance_id=$(curl -sS -H "X-aws-ec2-metadata-token: $imds_token" http://169.254.169.254/latest/meta-data/instance-id)

aws s3 cp "s3://$BUCKET/pilb/pilb-backend-linux-$arch" /usr/local/bin/pilb-backend
chmod 0755 /usr/local/bin/pilb-backend
id pilb >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin pilb

install -d -m 0755 /etc/pilb
admin_token=$(aws ssm get-parameter --name "$TOKEN_PARAM" --with-decryption --query Parameter.Value --output text)
umask 027
printf 'PILB_ADMIN_TOKEN=%s\n' "$admin_token" > /etc/pilb/backend.env
chgrp pilb /etc/pilb/backend.env
umask 022

# :PORT registers the address the proxy sees the registration come from:
# this instance's private address.
cat > /etc/systemd/system/pilb-backend.service <<UNIT
[Unit]
Description=pilb demo backend, registered with the proxy
After=network-online.target
Wants=network-online.target

[Service]
User=pilb
EnvironmentFile=/etc/pilb/backend.env
ExecStart=/usr/local/bin/pilb-backend -id $instance_id -pool $POOL -listen :$PORT -register $PROXY -ttl 15s
# SIGTERM deregisters and waits for the proxy to let go (-drain-timeout).
KillSignal=SIGTERM
TimeoutStopSec=30s
Restart=on-failure
RestartSec=1s
AmbientCapabilities=
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable --now pilb-backend
