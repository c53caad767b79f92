#!/bin/bash
# EC2 user data for a pilb proxy host (Amazon Linux 2023, or Debian/Ubuntu;
# x86_64 or Graviton). It installs pilb from S3, tunes the kernel, and runs
# pilb under systemd on :80 with the admin API on the instance's private
# address, which the backends register with.
#
# Before launching:
#   - build and upload the binaries (README, "Install"):
#       GOOS=linux GOARCH=arm64 go build -o pilb-linux-arm64 ./cmd/pilb
#       aws s3 cp pilb-linux-arm64 s3://$BUCKET/pilb/pilb-linux-arm64
#   - store the admin token: aws ssm put-parameter --name /pilb/admin-token \
#       --type SecureString --value "$(openssl rand -hex 16)"
#   - the instance role may read both (s3:GetObject, ssm:GetParameter).
#   - security group: 80 from the load balancer (or the world), 9090 from
#     the backends' security group only.
set -euo pipefail

BUCKET=my-pilb-bucket            # where the binaries are
TOKEN_PARAM=/pilb/admin-token    # SSM parameter holding the admin token
REPO_RAW=https://raw.githubusercontent.com/pilb-proxy/pilb/main/deploy

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

# IMDSv2: this instance's private address, for the admin API.
imds_token=$(curl -sS -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
private_ip=$(curl -sS -H "X-aws-ec2-metadata-token: $imds_token" http://169.254.169.254/latest/meta-data/local-ipv4)

aws s3 cp "s3://$BUCKET/pilb/pilb-linux-$arch" /usr/local/bin/pilb
chmod 0755 /usr/local/bin/pilb
/usr/local/bin/pilb -version

id pilb >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin pilb

install -d -m 0755 /etc/pilb
admin_token=$(aws ssm get-parameter --name "$TOKEN_PARAM" --with-decryption --query Parameter.Value --output text)
umask 027
printf 'PILB_ADMIN_TOKEN=%s\n' "$admin_token" > /etc/pilb/pilb.env
chgrp pilb /etc/pilb/pilb.env
umask 022

cat > /etc/pilb/pilb.flags <<FLAGS
-listen :80
-admin $private_ip:9090
-monitor-uri /-/health
-access-log /var/log/pilb/access.log
-access-log-format json
-log-format json
# An ALB in front: keep its X-Forwarded-Proto (the VPC's range).
# -trusted-proxies 10.0.0.0/16
# An NLB in front, proxy protocol v2 on in its target group:
# -proxy-protocol
FLAGS

for f in pilb.service:/etc/systemd/system/pilb.service \
         sysctl.d/99-pilb.conf:/etc/sysctl.d/99-pilb.conf \
         logrotate.d/pilb:/etc/logrotate.d/pilb; do
  curl -fsSL "$REPO_RAW/${f%%:*}" -o "${f#*:}"
done
sysctl --system >/dev/null

systemctl daemon-reload
systemctl enable --now pilb
# The load balancer's target health check: HTTP GET /-/health on port 80
# (200 while a backend is available, 503 otherwise or while draining).
