#!/usr/bin/env bash
# Regenerates the fixture corpus: one file, one case, each with its password
# and expected outcome in manifest.tsv (in the style of C2SP's CCTV).
#
# Needs: openssl 3, certtool (gnutls-bin), certutil and pk12util
# (libnss3-tools), keytool (a JDK), python3 with cryptography.
# The fixtures are committed; the tests only read them, so CI needs none of
# these tools but openssl.
#
# manifest.tsv columns:
#   file        the fixture, relative to this folder
#   password    the file's password; "-" gives none, "<empty>" the empty one
#   expect      "ok", or the CertVaultError code certvault must report
#   certs keys  how many certificates and private keys certvault must find
#   judge_certs judge_keys
#               an openssl command line (after "openssl") that prints, as PEM,
#               the certificates / keys OpenSSL reads from the same file;
#               {F} is the file, {P} the password; "-" for none
#   tool        what wrote the file
#   note        what the case is about
set -euo pipefail
cd "$(dirname "$0")"
rm -f ./*.p12 ./*.pfx ./*.pem ./*.der ./*.p7b ./*.bin ./*.txt manifest.tsv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
P=test
printf 'file\tpassword\texpect\tcerts\tkeys\tjudge_certs\tjudge_keys\ttool\tnote\n' > manifest.tsv
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> manifest.tsv; }
P12C='pkcs12 -legacy -in {F} -passin pass:{P} -nokeys'
P12K='pkcs12 -legacy -in {F} -passin pass:{P} -nocerts -nodes'

# --- Material: a root, an intermediate, an RSA leaf with SANs, other keys ---
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/root.key" -out "$tmp/root.crt" -days 7300 \
  -subj "/C=US/O=certvault fixtures/CN=Fixture Root CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout "$tmp/int.key" -out "$tmp/int.csr" \
  -subj "/C=US/O=certvault fixtures/CN=Fixture Intermediate CA" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$tmp/int.ext"
openssl x509 -req -in "$tmp/int.csr" -CA "$tmp/root.crt" -CAkey "$tmp/root.key" -CAcreateserial \
  -out "$tmp/int.crt" -days 7000 -extfile "$tmp/int.ext" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout "$tmp/leaf.key" -out "$tmp/leaf.csr" \
  -subj "/C=US/O=Contoso/CN=www.contoso.com" \
  -addext "subjectAltName=DNS:www.contoso.com,DNS:contoso.com" 2>/dev/null
printf 'subjectAltName=DNS:www.contoso.com,DNS:contoso.com\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > "$tmp/leaf.ext"
openssl x509 -req -in "$tmp/leaf.csr" -CA "$tmp/int.crt" -CAkey "$tmp/int.key" -CAcreateserial \
  -out "$tmp/leaf.crt" -days 3650 -extfile "$tmp/leaf.ext" 2>/dev/null
cat "$tmp/int.crt" "$tmp/root.crt" > "$tmp/cas.crt"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/other.key" -out "$tmp/other.crt" -days 3650 \
  -subj "/CN=unrelated.example" 2>/dev/null

# --- PKCS#12 written by OpenSSL 3 ---
exp() { openssl pkcs12 -export -inkey "$tmp/leaf.key" -in "$tmp/leaf.crt" -name www.contoso.com "$@"; }
exp -certfile "$tmp/cas.crt" -out ossl-default.p12 -passout pass:$P
row ossl-default.p12 $P ok 3 1 "$P12C" "$P12K" "openssl 3" "AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC, leaf and chain"
exp -legacy -certfile "$tmp/cas.crt" -out ossl-legacy.p12 -passout pass:$P
row ossl-legacy.p12 $P ok 3 1 "$P12C" "$P12K" "openssl 3 -legacy" "RC2-40 certificates, 3DES key, SHA-1 MAC"
exp -descert -out ossl-3des.p12 -passout pass:$P
row ossl-3des.p12 $P ok 1 1 "$P12C" "$P12K" "openssl 3 -descert" "3DES for certificates and key"
exp -nomac -out ossl-nomac.p12 -passout pass:$P
row ossl-nomac.p12 $P ok 1 1 "$P12C" "$P12K" "openssl 3 -nomac" "no MAC"
exp -keypbe NONE -certpbe NONE -out ossl-maconly.p12 -passout pass:$P
row ossl-maconly.p12 $P ok 1 1 "$P12C" "$P12K" "openssl 3" "MAC only, bags not encrypted"
exp -keypbe NONE -certpbe NONE -nomac -out ossl-nopassword.p12 -passout pass:
row ossl-nopassword.p12 - ok 1 1 "$P12C" "$P12K" "openssl 3" "no password at all: no encryption, no MAC"
exp -out ossl-emptypassword.p12 -passout pass:
row ossl-emptypassword.p12 - ok 1 1 "$P12C" "$P12K" "openssl 3" "empty password, given as none"
cp ossl-emptypassword.p12 ossl-emptypassword-given.p12
row ossl-emptypassword-given.p12 "<empty>" ok 1 1 "$P12C" "$P12K" "openssl 3" "empty password, given as empty"
openssl pkcs12 -export -nocerts -inkey "$tmp/leaf.key" -out ossl-keyonly.p12 -passout pass:$P
row ossl-keyonly.p12 $P ok 0 1 - "$P12K" "openssl 3 -nocerts" "key-only bundle"
openssl pkcs12 -export -nokeys -in "$tmp/leaf.crt" -out ossl-certonly.p12 -passout pass:$P
row ossl-certonly.p12 $P ok 1 0 "$P12C" - "openssl 3 -nokeys" "certificate-only bundle"
exp -name "Zürich ☃ 証明書" -out ossl-unicode-name.p12 -passout pass:$P
row ossl-unicode-name.p12 $P ok 1 1 "$P12C" "$P12K" "openssl 3" "Unicode friendly name"
exp -iter 1000000 -out ossl-iter1m.p12 -passout pass:$P
row ossl-iter1m.p12 $P ok 1 1 "$P12C" "$P12K" "openssl 3 -iter 1000000" "one million PBKDF2 iterations"
exp -certfile "$tmp/other.crt" -out ossl-several-certs.p12 -passout pass:$P
row ossl-several-certs.p12 $P ok 2 1 "$P12C" "$P12K" "openssl 3" "one key, its certificate and an unrelated one"
cp ossl-default.p12 ossl-wrong-password.p12
row ossl-wrong-password.p12 wrong wrong-password 0 0 - - "openssl 3" "the password given is wrong"
cp ossl-default.p12 ossl-no-password-given.p12
row ossl-no-password-given.p12 - wrong-password 0 0 - - "openssl 3" "a password is needed and none is given"
python3 - <<'PY'
import subprocess
data = bytearray(open("ossl-default.p12", "rb").read())
# The MAC digest is the second-to-last OCTET STRING (the last is the MAC salt).
lines = [l for l in subprocess.run(["openssl", "asn1parse", "-inform", "der", "-in", "ossl-default.p12"],
         capture_output=True, text=True, check=True).stdout.splitlines() if "OCTET STRING" in l]
offset = int(lines[-2].split(":")[0])
data[offset + 4] ^= 0xFF
open("ossl-mac-broken.p12", "wb").write(data)
full = open("ossl-default.p12", "rb").read()
open("ossl-truncated.p12", "wb").write(full[: len(full) * 2 // 3])
PY
row ossl-mac-broken.p12 $P mac-failure 0 0 - - "openssl 3, one MAC byte flipped" "the MAC fails while the contents decrypt"
row ossl-truncated.p12 $P truncated 0 0 - - "openssl 3, cut short" "truncated file"
exp -legacy -nomac -certpbe NONE -out "$tmp/tdes-nomac.p12" -passout pass:$P
python3 - "$tmp/tdes-nomac.p12" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
oid = bytes([0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01, 0x03])
i = data.index(oid)
data[i + len(oid) - 1] = 0x7F   # 1.2.840.113549.1.12.1.127: a PBE nobody implements
open("ossl-unsupported-cipher.p12", "wb").write(data)
PY
row ossl-unsupported-cipher.p12 $P unsupported-algorithm 0 0 - - "openssl 3, PBE OID changed" "a key bag encrypted with an unknown algorithm"

# --- Not certificate material ---
: > empty.p12
row empty.p12 - empty-file 0 0 - - "touch" "an empty file"
head -c 700 /dev/urandom > garbage.bin
printf '\x04' | dd of=garbage.bin bs=1 count=1 conv=notrunc 2>/dev/null
row garbage.bin - unknown-format 0 0 - - "random bytes" "garbage"
base64 ossl-default.p12 > base64-pfx.txt
row base64-pfx.txt $P ok 3 1 - - "base64" "a .pfx in base64 text (as Key Vault and CI variables hand it out), read as the bytes it encodes"

# --- Certificates ---
cp "$tmp/leaf.crt" leaf.pem
row leaf.pem - ok 1 0 "x509 -in {F}" - "openssl" "PEM certificate"
openssl x509 -in "$tmp/leaf.crt" -outform der -out leaf.der
row leaf.der - ok 1 0 "x509 -inform der -in {F}" - "openssl" "DER certificate (.cer)"
{ printf 'Subject: www.contoso.com\r\nIssued by the fixture CA, pasted from an e-mail.\r\n\r\n'; sed 's/$/\r/' "$tmp/leaf.crt"; printf '\r\nthanks\r\n'; } > leaf-crlf.pem
row leaf-crlf.pem - ok 1 0 "x509 -in {F}" - "hand-made" "CRLF line ends and text around the block"
cat "$tmp/leaf.crt" "$tmp/int.crt" "$tmp/root.crt" > chain.pem
row chain.pem - ok 3 0 "crl2pkcs7 -nocrl -certfile {F} | openssl pkcs7 -print_certs" - "cat" "leaf, intermediate and root in one PEM"
openssl x509 -in "$tmp/leaf.crt" -trustout -addtrust serverAuth -setalias "contoso trusted" -out trusted.pem
row trusted.pem - ok 1 0 "x509 -in {F}" - "openssl x509 -trustout" "TRUSTED CERTIFICATE block"
openssl crl2pkcs7 -nocrl -certfile chain.pem -outform der -out chain-der.p7b
row chain-der.p7b - ok 3 0 "pkcs7 -inform der -in {F} -print_certs" - "openssl crl2pkcs7" "PKCS#7 bundle, DER"
openssl crl2pkcs7 -nocrl -certfile chain.pem -out chain-pem.p7b
row chain-pem.p7b - ok 3 0 "pkcs7 -in {F} -print_certs" - "openssl crl2pkcs7" "PKCS#7 bundle, PEM"
cat "$tmp/leaf.crt" "$tmp/leaf.key" > leaf-with-key.pem
row leaf-with-key.pem - ok 1 1 "x509 -in {F}" "pkey -in {F}" "cat" "certificate and its key in one PEM"
cat "$tmp/leaf.crt" "$tmp/other.key" > mismatch.pem
row mismatch.pem - key-mismatch 0 0 - - "cat" "a certificate with a key that is not its own"

# --- Private keys ---
K="$tmp/leaf.key"
openssl pkey -in "$K" -out key-pkcs8.pem
row key-pkcs8.pem - ok 0 1 - "pkey -in {F}" "openssl pkey" "PKCS#8 PEM"
openssl pkey -in "$K" -outform der -out key-pkcs8.der
row key-pkcs8.der - ok 0 1 - "pkey -inform der -in {F}" "openssl pkey" "PKCS#8 DER"
openssl rsa -in "$K" -traditional -out key-pkcs1.pem 2>/dev/null
row key-pkcs1.pem - ok 0 1 - "pkey -in {F}" "openssl rsa -traditional" "PKCS#1 RSA PEM"
openssl rsa -in "$K" -traditional -outform der -out key-pkcs1.der 2>/dev/null
row key-pkcs1.der - ok 0 1 - "pkey -inform der -in {F}" "openssl rsa -traditional" "PKCS#1 RSA DER"
enc() { openssl pkcs8 -topk8 -in "$K" -passout pass:$P "$@"; }
enc -v2 aes-256-cbc -v2prf hmacWithSHA256 -out key-pbes2-aes256-sha256.pem
row key-pbes2-aes256-sha256.pem $P ok 0 1 - "pkey -in {F} -passin pass:{P}" "openssl pkcs8" "PBES2, AES-256-CBC, PBKDF2-HMAC-SHA256"
enc -v2 aes-128-cbc -v2prf hmacWithSHA1 -out key-pbes2-aes128-sha1.pem
row key-pbes2-aes128-sha1.pem $P ok 0 1 - "pkey -in {F} -passin pass:{P}" "openssl pkcs8" "PBES2, AES-128-CBC, PBKDF2-HMAC-SHA1"
enc -v2 des3 -v2prf hmacWithSHA512 -out key-pbes2-des3-sha512.pem
row key-pbes2-des3-sha512.pem $P ok 0 1 - "pkey -in {F} -passin pass:{P}" "openssl pkcs8" "PBES2, 3DES, PBKDF2-HMAC-SHA512"
enc -scrypt -out key-scrypt.pem
row key-scrypt.pem $P ok 0 1 - "pkey -in {F} -passin pass:{P}" "openssl pkcs8 -scrypt" "PBES2 with scrypt"
enc -v1 PBE-SHA1-3DES -out key-pbes1-sha1-3des.pem
row key-pbes1-sha1-3des.pem $P ok 0 1 - "pkey -in {F} -passin pass:{P}" "openssl pkcs8 -v1" "PBES1 (PKCS#12 PBE), SHA-1 and 3DES"
enc -provider legacy -provider default -v1 PBE-MD5-DES -out key-pbes1-md5-des.pem
row key-pbes1-md5-des.pem $P ok 0 1 - "pkey -provider legacy -provider default -in {F} -passin pass:{P}" "openssl pkcs8 -v1" "PBES1, MD5 and DES (legacy provider)"
enc -v2 aes-256-cbc -outform der -out key-encrypted.der
row key-encrypted.der $P ok 0 1 - "pkey -inform der -in {F} -passin pass:{P}" "openssl pkcs8" "encrypted PKCS#8 DER"
openssl rsa -in "$K" -traditional -aes256 -passout pass:$P -out key-traditional-aes256.pem 2>/dev/null
row key-traditional-aes256.pem $P ok 0 1 - "pkey -in {F} -passin pass:{P}" "openssl rsa -aes256 -traditional" "traditional encrypted PEM (DEK-Info)"
cp key-pbes2-aes256-sha256.pem key-wrong-password.pem
row key-wrong-password.pem wrong wrong-password 0 0 - - "openssl pkcs8" "an encrypted key with the wrong password"
python3 - <<'PY'
import base64, re
pem = open("key-pbes2-aes256-sha256.pem").read()
der = bytearray(base64.b64decode("".join(l for l in pem.splitlines() if not l.startswith("-----"))))
aes256 = bytes([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A])
i = der.index(aes256)
der[i + len(aes256) - 1] = 0x7F   # 2.16.840.1.101.3.4.1.127: no such cipher
b64 = base64.b64encode(bytes(der)).decode()
open("key-unknown-cipher.pem", "w").write("-----BEGIN ENCRYPTED PRIVATE KEY-----\n" +
    "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n-----END ENCRYPTED PRIVATE KEY-----\n")
PY
row key-unknown-cipher.pem $P unsupported-algorithm 0 0 - - "openssl pkcs8, cipher OID changed" "a key encrypted with an unknown cipher"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256.key" 2>/dev/null
openssl ec -in "$tmp/p256.key" -out ec-p256-sec1.pem 2>/dev/null
row ec-p256-sec1.pem - ok 0 1 - "pkey -in {F}" "openssl ec" "SEC1 EC PEM, P-256"
openssl ec -in "$tmp/p256.key" -outform der -out ec-p256-sec1.der 2>/dev/null
row ec-p256-sec1.der - ok 0 1 - "pkey -inform der -in {F}" "openssl ec" "SEC1 EC DER"
openssl ec -in "$tmp/p256.key" -aes128 -passout pass:$P -out ec-p256-traditional-aes128.pem 2>/dev/null
row ec-p256-traditional-aes128.pem $P ok 0 1 - "pkey -in {F} -passin pass:{P}" "openssl ec -aes128" "traditional encrypted SEC1 PEM"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec-p384-pkcs8.pem 2>/dev/null
row ec-p384-pkcs8.pem - ok 0 1 - "pkey -in {F}" "openssl genpkey" "PKCS#8, P-384"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out ec-p521-pkcs8.pem 2>/dev/null
row ec-p521-pkcs8.pem - ok 0 1 - "pkey -in {F}" "openssl genpkey" "PKCS#8, P-521"
openssl genpkey -algorithm ED25519 -out ed25519.pem
row ed25519.pem - ok 0 1 - "pkey -in {F}" "openssl genpkey" "Ed25519"
openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out "$tmp/dsa.param" 2>/dev/null
openssl genpkey -paramfile "$tmp/dsa.param" -out dsa.pem 2>/dev/null
row dsa.pem - ok 0 1 - "pkey -in {F}" "openssl genpkey" "DSA: readable, with a warning"

# --- GnuTLS certtool ---
certtool --to-p12 --load-privkey "$tmp/leaf.key" --load-certificate "$tmp/leaf.crt" --p12-name gnutls \
  --password $P --outfile gnutls.p12 --outder 2>/dev/null
row gnutls.p12 $P ok 1 1 "$P12C" "$P12K" "GnuTLS certtool $(certtool --version | head -1 | awk '{print $2}')" "certtool --to-p12 default (AES-128)"
certtool --to-p12 --load-privkey "$tmp/leaf.key" --load-certificate "$tmp/leaf.crt" --p12-name gnutls \
  --password $P --pkcs-cipher 3des-pkcs12 --outfile gnutls-3des.p12 --outder 2>/dev/null
row gnutls-3des.p12 $P ok 1 1 "$P12C" "$P12K" "GnuTLS certtool" "certtool --pkcs-cipher 3des-pkcs12"

# --- NSS pk12util ---
mkdir "$tmp/nss"
certutil -N -d "sql:$tmp/nss" --empty-password
pk12util -i ossl-default.p12 -d "sql:$tmp/nss" -W $P -K "" >/dev/null
pk12util -o nss.p12 -n www.contoso.com -d "sql:$tmp/nss" -W $P -K "" >/dev/null
row nss.p12 $P ok 3 1 "$P12C" "$P12K" "NSS pk12util $(pk12util -v 2>&1 | awk '{print $NF}' | head -1)" "pk12util -o default"

# --- Java keytool ---
keytool -genkeypair -keyalg RSA -keysize 2048 -alias javakey -dname "CN=java.contoso.com" -validity 3650 \
  -storetype PKCS12 -keystore java.p12 -storepass testtest -keypass testtest 2>/dev/null
row java.p12 testtest ok 1 1 "$P12C" "$P12K" "Java keytool $(java -version 2>&1 | head -1 | cut -d'"' -f2)" "keytool -genkeypair, PKCS12 store"

# --- Python cryptography ---
python3 - "$tmp" <<'PY'
import sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization, hashes
from cryptography.hazmat.primitives.serialization import pkcs12, PrivateFormat
tmp = sys.argv[1]
key = serialization.load_pem_private_key(open(f"{tmp}/leaf.key", "rb").read(), None)
cert = x509.load_pem_x509_certificate(open(f"{tmp}/leaf.crt", "rb").read())
cas = [x509.load_pem_x509_certificate(open(f"{tmp}/{n}.crt", "rb").read()) for n in ("int", "root")]
open("pyca.p12", "wb").write(pkcs12.serialize_key_and_certificates(
    b"pyca", key, cert, cas, serialization.BestAvailableEncryption(b"test")))
legacy = (PrivateFormat.PKCS12.encryption_builder().kdf_rounds(50000)
          .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1()).build(b"test"))
open("pyca-legacy.p12", "wb").write(pkcs12.serialize_key_and_certificates(b"pyca", key, cert, None, legacy))
open("pyca-unencrypted.p12", "wb").write(pkcs12.serialize_key_and_certificates(
    b"pyca", key, cert, None, serialization.NoEncryption()))
open("pyca-key.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM, PrivateFormat.PKCS8,
    serialization.BestAvailableEncryption(b"test")))
PY
row pyca.p12 $P ok 3 1 "$P12C" "$P12K" "Python cryptography $(python3 -c 'import cryptography; print(cryptography.__version__)')" "BestAvailableEncryption"
row pyca-legacy.p12 $P ok 1 1 "$P12C" "$P12K" "Python cryptography" "PBESv1 SHA1 and 3DES, SHA-1 MAC"
row pyca-unencrypted.p12 - ok 1 1 "$P12C" "$P12K" "Python cryptography" "NoEncryption"
row pyca-key.pem $P ok 0 1 - "pkey -in {F} -passin pass:{P}" "Python cryptography" "PKCS#8 PEM, BestAvailableEncryption"

# --- Real-world exports (kept in ../real-world) ---
for f in ValidCertificatePathTest1EE_windows_aes.p12.pfx ValidCertificatePathTest1EE_windows_tdes.p12.pfx \
         ValidCertificatePathTest1EE_macos.p12 ValidCertificatePathTest1EE_firefox.p12; do
  row "../real-world/$f" password ok 1 1 "$P12C" "$P12K" "real-world export" "see ../real-world/README.md"
done
echo "wrote $(($(wc -l < manifest.tsv) - 1)) cases" >&2
