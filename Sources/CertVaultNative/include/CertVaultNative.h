#ifndef CERTVAULT_NATIVE_H
#define CERTVAULT_NATIVE_H

// C for what the Swift importer cannot see (OpenSSL 3's stack and BIO
// macros, union fields, the variadic prctl()) and for the hot paths of
// reading a .pfx, in certvault's own OpenSSL library context.

#include <stddef.h>
#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

int cv_sk_X509_num(const STACK_OF(X509) *sk);
X509 *cv_sk_X509_value(const STACK_OF(X509) *sk, int i);
STACK_OF(X509) *cv_sk_X509_new_null(void);
int cv_sk_X509_push(STACK_OF(X509) *sk, X509 *x);
void cv_sk_X509_pop_free(STACK_OF(X509) *sk);
// Frees the stack only, not the certificates it points to.
void cv_sk_X509_free_shallow(STACK_OF(X509) *sk);

int cv_sk_PKCS7_num(const STACK_OF(PKCS7) *sk);
PKCS7 *cv_sk_PKCS7_value(const STACK_OF(PKCS7) *sk, int i);
void cv_sk_PKCS7_pop_free(STACK_OF(PKCS7) *sk);
int cv_PKCS7_type_nid(const PKCS7 *p7);

int cv_sk_PKCS12_SAFEBAG_num(const STACK_OF(PKCS12_SAFEBAG) *sk);
PKCS12_SAFEBAG *cv_sk_PKCS12_SAFEBAG_value(const STACK_OF(PKCS12_SAFEBAG) *sk, int i);
void cv_sk_PKCS12_SAFEBAG_pop_free(STACK_OF(PKCS12_SAFEBAG) *sk);
/// The localKeyID attribute of a bag, or NULL; the bytes belong to the bag.
const unsigned char *cv_PKCS12_SAFEBAG_local_key_id(const PKCS12_SAFEBAG *bag, int *len);

/// The raw friendlyName attribute of a bag: its ASN.1 string type
/// (V_ASN1_BMPSTRING, V_ASN1_UTF8STRING, ...) and bytes, or 0 if absent.
int cv_PKCS12_SAFEBAG_friendly_name(const PKCS12_SAFEBAG *bag, const unsigned char **data, int *len);

int cv_sk_GENERAL_NAME_num(const GENERAL_NAMES *sk);
GENERAL_NAME *cv_sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i);
/// Type (GEN_DNS, GEN_IPADD, GEN_EMAIL, GEN_URI) and raw bytes of a name.
int cv_GENERAL_NAME_get(const GENERAL_NAME *name, const unsigned char **data, int *len);

/// X509_NAME_print_ex with RFC 2253 flags, UTF-8 kept as is.
int cv_X509_NAME_print_rfc2253(BIO *bio, const X509_NAME *name);

long cv_BIO_get_mem_data(BIO *bio, char **data);
void cv_OPENSSL_free(void *p);
void cv_OPENSSL_clear_free(void *p, size_t len);

/// EVP_PKEY_Q_keygen is variadic: one wrapper a key type.
EVP_PKEY *cv_keygen_rsa(size_t bits);
EVP_PKEY *cv_keygen_ec(const char *curve);

/// The certificates of a PKCS#7 SignedData (or signedAndEnveloped); owned by p7.
STACK_OF(X509) *cv_PKCS7_certificates(PKCS7 *p7);

/// Decodes a private key in any format OSSL_DECODER knows (PEM or DER;
/// PKCS#8 plain or encrypted, PKCS#1, SEC1, traditional encrypted PEM) with
/// the passphrase given (never prompting). NULL on failure.
EVP_PKEY *cv_decode_private_key(const unsigned char *data, size_t len, const char *pass, size_t passlen);

/// Writes `pkey` as PEM PKCS#8, encrypted with AES-256-CBC under PBES2 /
/// PBKDF2-HMAC-SHA256 with `iter` iterations. 1 on success.
int cv_write_encrypted_pkcs8(BIO *bio, EVP_PKEY *pkey, const char *pass, int passlen, int iter);

/// A PKCS#10 request for `pkey` with `subject`, the SANs in `san` (OpenSSL
/// config syntax, may be NULL), signed with SHA-256 (or nothing for EdDSA).
X509_REQ *cv_make_csr(EVP_PKEY *pkey, const X509_NAME *subject, const char *san);

/// Extended key usages as text ("serverAuth,clientAuth"); returns the length.
int cv_X509_eku_text(X509 *x, char *buf, int len);

/// setrlimit(RLIMIT_CORE, 0) and prctl(PR_SET_DUMPABLE, 0); 0 on success.
int cv_disable_core_dumps(void);

/// open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode): an unnamed file in
/// `dir` (O_TMPFILE is a macro Swift cannot see). -1 with errno on failure.
int cv_open_tmpfile(const char *dir, unsigned int mode);

/// Treats an SQLite connection's file as untrusted input: turns on
/// SQLITE_DBCONFIG_DEFENSIVE, turns off trusted_schema and extension
/// loading. `db` is a `sqlite3 *`. 0 on success, else the SQLite error code.
int cv_sqlite_harden(void *db);

// What a password-based encryption algorithm asks for, read before any
// work is done.
typedef struct {
    int scheme;        // NID of the algorithm: a PKCS#12 PBE, or NID_pbes2
    int cipher;        // PBES2: NID of the cipher; else 0
    int kdf;           // PBES2: NID_id_pbkdf2 or NID_id_scrypt; else 0
    int prf;           // PBKDF2: NID of the PRF (hmacWithSHA1 when left out)
    int64_t iter;      // iterations; INT64_MAX when too large to read, as written when zero or negative
    int scrypt;        // 1 for scrypt, with n, r, p (UINT64_MAX when too large)
    uint64_t n, r, p;
    int salt_len;      // -1 when unknown
} cv_pbe_info;
// Returns 0 when the parameters were read, -1 when they cannot be (scheme
// is still set when the algorithm itself could be named).
int cv_pbe_describe(const X509_ALGOR *alg, cv_pbe_info *out);
// The MAC of a PKCS#12 file: digest NID, iterations (1 when left out,
// INT64_MAX when too large to read) and salt length. -1 when there is no MAC.
int cv_pkcs12_mac_describe(const PKCS12 *p12, int *md_nid, int64_t *iter, int *salt_len);
// The encryption algorithm of an encrypted PKCS#7 safe, or NULL.
const X509_ALGOR *cv_PKCS7_encrypted_algor(const PKCS7 *p7);
// The encryption algorithm of a shrouded key bag, or NULL.
const X509_ALGOR *cv_SAFEBAG_shrouded_algor(const PKCS12_SAFEBAG *bag);
// The encryption algorithm of an encrypted PKCS#8 key.
const X509_ALGOR *cv_X509_SIG_algor(const X509_SIG *sig);

// Whether needle occurs in haystack (glibc's memmem, which Swift does not see).
int cv_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);

// PBKDF2 with HMAC-SHA-1 (md_nid NID_sha1) or HMAC-SHA-256 (NID_sha256),
// as PKCS5_PBKDF2_HMAC; passlen -1 takes strlen(pass). 1 on success.
int cv_pbkdf2_hmac(const char *pass, int passlen, const unsigned char *salt, int saltlen, int iter,
                   int md_nid, unsigned char *out, int outlen);
// The PKCS#12 key derivation (RFC 7292 appendix B.2) as
// PKCS12_key_gen_utf8 computes it, with SHA-1 (md_nid NID_sha1) or SHA-256:
// n bytes for id (1 key, 2 IV, 3 MAC key). 1 on success.
int cv_pkcs12_kdf(const char *pass, int passlen, const unsigned char *salt, int saltlen, int id, int iter,
                  int md_nid, unsigned char *out, int n);
// certvault's own OpenSSL library context, with the default and legacy
// providers loaded into it (made once; never the process's default
// context). NULL when either provider cannot be loaded.
OSSL_LIB_CTX *cv_libctx(void);
// Verifies the MAC of a PKCS#12 file in certvault's context: the key over
// the digests' own compressions for SHA-1 and SHA-256 (one per iteration,
// where OpenSSL 3.0 spends a digest fetch), OpenSSL's derivation and HMAC
// for any other digest. `der` and `derlen` are the bytes p12 was decoded
// from. 1 when the MAC verifies, 0 when it does not, -1 when it cannot be
// judged (an unknown digest, an unreadable structure); the error queue says why.
int cv_pkcs12_verify_mac(const PKCS12 *p12, const unsigned char *der, long derlen, const char *pass, int passlen);
// The bags of an encrypted PKCS#7 safe (PKCS12_unpack_p7encdata), decrypted
// in certvault's context; NULL on failure.
STACK_OF(PKCS12_SAFEBAG) *cv_pkcs12_decrypt_safe(const PKCS7 *p7, const char *pass, int passlen);
// An encrypted PKCS#8 key (a shrouded bag's, PKCS8_decrypt), decrypted in
// certvault's context; NULL on failure.
PKCS8_PRIV_KEY_INFO *cv_pkcs8_decrypt(const X509_SIG *sig, const char *pass, int passlen);
// EVP_PKCS82PKEY in certvault's context, with decoder contexts (which
// OpenSSL 3.0 builds anew for every key) kept in a small pool, one per key
// type, taken by one thread at a time. The same key or NULL.
EVP_PKEY *cv_pkcs8_to_pkey(const PKCS8_PRIV_KEY_INFO *p8);
// Frames the first ncols columns of an SQLite statement's current row as
// the vault's row digests encode them: per value, its storage class as a tag
// (1 integer, 3 float, 4 text, 5 blob, 6 null), its length as 8 big-endian
// bytes, its bytes. Writes at most cap bytes and returns the length the
// whole row needs: when that is more than cap, call again with room for it.
size_t cv_sqlite_frame_row(void *statement, int ncols, unsigned char *buf, size_t cap);


// SHA-1 and SHA-256 of `n` bytes at once, into `sha1` and `sha256`.
void cv_thumbprints(const void *data, size_t n, unsigned char sha1[20], unsigned char sha256[32]);
#endif
