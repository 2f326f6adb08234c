#!/usr/bin/env bash
# Installs what test/idp/simplesamlphp.ts needs: Debian's SimpleSAMLphp (1.19.x on bookworm) and the
# PHP CLI with the extensions it uses. Idempotent: does nothing when everything is there, and runs
# `apt-get update` only when a package has to be installed.
#
# Note: the simplesamlphp package depends on `apache2 | httpd`, so apt pulls in apache2 as well. It is
# not started here (and is not needed): the tests serve SimpleSAMLphp with `php -S` on loopback.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(simplesamlphp php-cli php-xml php-mbstring php-curl)

have_all() {
  [ -f /usr/share/simplesamlphp/www/saml2/idp/SSOService.php ] || return 1
  command -v php >/dev/null 2>&1 || return 1
  command -v openssl >/dev/null 2>&1 || return 1
  local mods
  mods=$(php -m 2>/dev/null | tr 'A-Z' 'a-z')
  for m in dom xml mbstring curl openssl zlib session; do
    grep -qx "$m" <<<"$mods" || return 1
  done
}

if have_all; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "SimpleSAMLphp/PHP missing. Install them: sudo apt-get install --no-install-recommends ${packages[*]} openssl" >&2
  exit 1
fi

echo "Installing Debian packages: ${packages[*]} openssl"
# `apt-get install` fails on a machine whose package lists were never fetched; refresh them first.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" openssl >/dev/null

if ! have_all; then
  echo "SimpleSAMLphp install finished but the IdP prerequisites are still missing" >&2
  exit 1
fi
echo "SimpleSAMLphp $(dpkg-query -W -f='${Version}' simplesamlphp) installed"
