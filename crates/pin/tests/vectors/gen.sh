#!/bin/sh
# Regenerates the X.509 test material of lantrust-pin with the Debian openssl CLI.
# Dates are fixed (`openssl ca -startdate/-enddate`) so the tests can pass a fixed `now`
# (2026-02-01T00:00:00Z = 1769904000) and never depend on the wall clock.
# Usage: sh gen.sh   (from this directory; overwrites the *.der files)
set -eu
OUT=$(pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"

cat > ca.cnf <<'CNF'
[ca]
default_ca = CA_default
[CA_default]
dir = .
database = ./index.txt
new_certs_dir = ./new
serial = ./serial
default_md = sha384
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
subjectAltName = DNS:router-fdb531.local, DNS:router-fdb531.example.test, IP:192.168.1.1
[root2]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
subjectAltName = DNS:other-router.local, DNS:other-router.corp.test
[notca]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = DNS:router-fdb531.local
[device]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:dev1.local, DNS:dev1.example.test, IP:192.168.1.50, IP:fe80::1
[public]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:www.example.com, IP:8.8.8.8
CNF
mkdir new
touch index.txt
echo 1000 > serial

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"$2" -out "$1.key" 2>/dev/null; }
rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$2" -out "$1.key" 2>/dev/null; }
csr() { openssl req -new -config ca.cnf -key "$1.key" -subj "/CN=$2" -out "$1.csr"; }
# selfsign NAME EXT MD START END
selfsign() {
  openssl ca -batch -config ca.cnf -selfsign -keyfile "$1.key" -in "$1.csr" -extfile ca.cnf \
    -extensions "$2" -md "$3" -startdate "$4" -enddate "$5" -notext -out "$1.pem" 2>/dev/null
  openssl x509 -in "$1.pem" -outform DER -out "$OUT/$1.der"
}
# sign NAME ISSUER EXT MD START END
sign() {
  openssl ca -batch -config ca.cnf -cert "$2.pem" -keyfile "$2.key" -in "$1.csr" -extfile ca.cnf \
    -extensions "$3" -md "$4" -startdate "$5" -enddate "$6" -notext -out "$1.pem" 2>/dev/null
  openssl x509 -in "$1.pem" -outform DER -out "$OUT/$1.der"
  openssl verify -attime 1769904000 -CAfile "$2.pem" -partial_chain "$1.pem" >/dev/null
}
R0=20250101000000Z; R1=20300101000000Z
D0=20260101000000Z; D1=20260401000000Z

# The home network's root (P-384 / SHA-384, as lantrust-ca makes by default) and its devices.
ec root-p384 secp384r1; csr root-p384 "router-fdb531 root"; selfsign root-p384 root sha384 $R0 $R1
# (`sign` reads NAME.csr and writes NAME.der, so the device CSR is copied under each output name)
ec dev1 secp384r1; csr dev1 dev1
cp dev1.csr dev1-by-p384.csr; sign dev1-by-p384 root-p384 device sha384 $D0 $D1
cp dev1.csr public-by-p384.csr; sign public-by-p384 root-p384 public sha384 $D0 $D1

# Another network's root and a device cert for the same name under it.
ec root2-p384 secp384r1; csr root2-p384 "other-router root"; selfsign root2-p384 root2 sha384 $R0 $R1
cp dev1.csr dev1-by-root2.csr; sign dev1-by-root2 root2-p384 device sha384 $D0 $D1

# P-521 / SHA-512 and RSA-3072 / SHA-256 roots with a device each.
ec root-p521 secp521r1; csr root-p521 "router-fdb531 root"; selfsign root-p521 root sha512 $R0 $R1
cp dev1.csr dev1-by-p521.csr; sign dev1-by-p521 root-p521 device sha512 $D0 $D1
rsa root-rsa3072 3072; csr root-rsa3072 "router-fdb531 root"; selfsign root-rsa3072 root sha256 $R0 $R1
cp dev1.csr dev1-by-rsa3072.csr; sign dev1-by-rsa3072 root-rsa3072 device sha256 $D0 $D1

# Roots that must be refused.
ec root-p256 prime256v1; csr root-p256 "weak root"; selfsign root-p256 root sha256 $R0 $R1
rsa root-rsa2048 2048; csr root-rsa2048 "weak root"; selfsign root-rsa2048 root sha256 $R0 $R1
ec root-expired secp384r1; csr root-expired "old root"; selfsign root-expired root sha384 20200101000000Z 20230101000000Z
ec root-notca secp384r1; csr root-notca "not a ca"; selfsign root-notca notca sha384 $R0 $R1
# A CA certificate issued by root2: a valid CA, but not self-signed.
ec sub-ca secp384r1; csr sub-ca "intermediate"; sign sub-ca root2-p384 root sha384 $R0 $R1
# A device key that is too weak (P-256), signed by the good root.
ec weakdev prime256v1; csr weakdev dev1; cp weakdev.csr weakdev-by-p384.csr; sign weakdev-by-p384 root-p384 device sha384 $D0 $D1

# SPKI SHA-256 of every root, computed by openssl, for the tests to compare with.
for f in "$OUT"/root*.der; do
  n=$(basename "$f" .der)
  h=$(openssl x509 -inform DER -in "$f" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
  echo "$n $h"
done > "$OUT/spki-sha256.txt"

echo "ok: $(ls "$OUT"/*.der | wc -l) certificates in $OUT"
