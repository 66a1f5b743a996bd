// PBKDF2 (RFC 8018 §5.2) with HMAC-SHA-1 or HMAC-SHA-256, for PKCS#12's
// PBES2 bags: the same bytes as OpenSSL's PKCS5_PBKDF2_HMAC, at half the
// cost. OpenSSL 3.0 runs each iteration through EVP (a context copy, a
// provider lock and a malloc per HMAC); here the inner and outer HMAC
// states are computed once and each iteration is two compressions on a
// stack copy of them. Installed with EVP_PBE_alg_add_type for NID_pbes2,
// so that PKCS12_parse, PKCS12_unpack_p7encdata, PKCS12_decrypt_skey and
// PKCS12_create all use it; anything it does not handle (another PRF,
// scrypt, parameters it cannot read) goes to OpenSSL's own
// PKCS5_v2_PBE_keyivgen unchanged.
//
// The key of a PKCS#12 MAC (RFC 7292 appendix B) is derived here too, for
// the same reason: OpenSSL 3.0 spends a digest fetch, with its locks, on
// each of its iterations.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CertVaultShims.h"
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <string.h>

typedef union {
    SHA_CTX sha1;
    SHA256_CTX sha256;
} cv_sha_ctx;

typedef struct {
    int sha256;  // else SHA-1
    size_t out;  // digest length
} cv_prf;

static void prf_init(const cv_prf *p, cv_sha_ctx *c) {
    if (p->sha256) SHA256_Init(&c->sha256); else SHA1_Init(&c->sha1);
}
static void prf_update(const cv_prf *p, cv_sha_ctx *c, const void *d, size_t n) {
    if (p->sha256) SHA256_Update(&c->sha256, d, n); else SHA1_Update(&c->sha1, d, n);
}
static void prf_final(const cv_prf *p, cv_sha_ctx *c, unsigned char *md) {
    if (p->sha256) SHA256_Final(md, &c->sha256); else SHA1_Final(md, &c->sha1);
}

int cv_pbkdf2_hmac(const char *pass, int passlen, const unsigned char *salt, int saltlen, int iter,
                   int md_nid, unsigned char *out, int outlen) {
    cv_prf prf;
    if (md_nid == NID_sha256) { prf.sha256 = 1; prf.out = SHA256_DIGEST_LENGTH; }
    else if (md_nid == NID_sha1) { prf.sha256 = 0; prf.out = SHA_DIGEST_LENGTH; }
    else return 0;
    if (iter < 1 || outlen < 0 || saltlen < 0 || (salt == NULL && saltlen > 0)) return 0;
    if (pass == NULL) { pass = ""; passlen = 0; }
    else if (passlen == -1) passlen = (int)strlen(pass);
    if (passlen < 0) return 0;

    // HMAC key: the password, hashed first when longer than a block.
    unsigned char key[64], pad[64], u[SHA256_DIGEST_LENGTH], t[SHA256_DIGEST_LENGTH], be[4];
    cv_sha_ctx inner, outer, c;
    memset(key, 0, sizeof key);
    if ((size_t)passlen > 64) {
        prf_init(&prf, &c);
        prf_update(&prf, &c, pass, (size_t)passlen);
        prf_final(&prf, &c, key);
    } else if (passlen > 0) {
        memcpy(key, pass, (size_t)passlen);
    }
    for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x36;
    prf_init(&prf, &inner);
    prf_update(&prf, &inner, pad, 64);
    for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x5c;
    prf_init(&prf, &outer);
    prf_update(&prf, &outer, pad, 64);

    for (uint32_t block = 1; outlen > 0; block++) {
        be[0] = (unsigned char)(block >> 24); be[1] = (unsigned char)(block >> 16);
        be[2] = (unsigned char)(block >> 8); be[3] = (unsigned char)block;
        // U1 = HMAC(P, S || INT(i))
        c = inner;
        if (saltlen > 0) prf_update(&prf, &c, salt, (size_t)saltlen);
        prf_update(&prf, &c, be, 4);
        prf_final(&prf, &c, u);
        c = outer;
        prf_update(&prf, &c, u, prf.out);
        prf_final(&prf, &c, u);
        memcpy(t, u, prf.out);
        // Uj = HMAC(P, Uj-1); T = U1 ^ ... ^ Uc
        for (int j = 1; j < iter; j++) {
            c = inner;
            prf_update(&prf, &c, u, prf.out);
            prf_final(&prf, &c, u);
            c = outer;
            prf_update(&prf, &c, u, prf.out);
            prf_final(&prf, &c, u);
            for (size_t k = 0; k < prf.out; k++) t[k] ^= u[k];
        }
        size_t n = (size_t)outlen < prf.out ? (size_t)outlen : prf.out;
        memcpy(out, t, n);
        out += n;
        outlen -= (int)n;
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(u, sizeof u);
    OPENSSL_cleanse(t, sizeof t);
    OPENSSL_cleanse(&inner, sizeof inner);
    OPENSSL_cleanse(&outer, sizeof outer);
    OPENSSL_cleanse(&c, sizeof c);
    return 1;
}

// The HMAC key of a PKCS#12 MAC (RFC 7292 appendix B.2, ID 3, one block of
// u bytes): A = H(D || S || P), then A = H(A) iter - 1 more times. P is the
// password as BMPString, by OPENSSL_utf82uni as OpenSSL's own key_gen_utf8;
// a NULL password is an empty P, "" is its two zero bytes.
static int pkcs12_mac_key(const cv_prf *prf, const char *pass, int passlen, const unsigned char *salt, int saltlen,
                          long iter, unsigned char *out) {
    unsigned char *uni = NULL;
    int unilen = 0;
    if (pass != NULL && !OPENSSL_utf82uni(pass, passlen, &uni, &unilen)) return 0;
    const size_t v = 64;  // the block size of SHA-1 and SHA-256
    unsigned char block[64];
    cv_sha_ctx c;
    prf_init(prf, &c);
    memset(block, 3, v);  // D: the ID, 3 for MAC keys
    prf_update(prf, &c, block, v);
    // I = S || P, each repeated to a whole number of blocks.
    size_t slen = saltlen > 0 ? v * (((size_t)saltlen + v - 1) / v) : 0;
    for (size_t i = 0; i < slen; i++) {
        block[i % v] = salt[i % (size_t)saltlen];
        if (i % v == v - 1) prf_update(prf, &c, block, v);
    }
    size_t plen = unilen > 0 ? v * (((size_t)unilen + v - 1) / v) : 0;
    for (size_t i = 0; i < plen; i++) {
        block[i % v] = uni[i % (size_t)unilen];
        if (i % v == v - 1) prf_update(prf, &c, block, v);
    }
    prf_final(prf, &c, out);
    for (long j = 1; j < iter; j++) {
        prf_init(prf, &c);
        prf_update(prf, &c, out, prf->out);
        prf_final(prf, &c, out);
    }
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(&c, sizeof c);
    OPENSSL_clear_free(uni, (size_t)unilen);
    return 1;
}

int cv_pkcs12_verify_mac(const PKCS12 *p12, const unsigned char *der, long derlen, const char *pass, int passlen) {
    const ASN1_OCTET_STRING *mac = NULL, *salt = NULL;
    const X509_ALGOR *macalg = NULL;
    const ASN1_INTEGER *iter_asn1 = NULL;
    if (p12 == NULL || der == NULL || derlen <= 0 || passlen < 0) return -1;
    PKCS12_get0_mac(&mac, &macalg, &salt, &iter_asn1, p12);
    if (mac == NULL || macalg == NULL || salt == NULL) return -1;
    const ASN1_OBJECT *oid = NULL;
    X509_ALGOR_get0(&oid, NULL, NULL, macalg);
    int md_nid = OBJ_obj2nid(oid);
    cv_prf prf;
    if (md_nid == NID_sha256) { prf.sha256 = 1; prf.out = SHA256_DIGEST_LENGTH; }
    else if (md_nid == NID_sha1) { prf.sha256 = 0; prf.out = SHA_DIGEST_LENGTH; }
    else return -1;
    long iter = 1;
    if (iter_asn1 != NULL) {
        iter = ASN1_INTEGER_get(iter_asn1);
        if (iter < 1 || iter > 0x7fffffffL) return -1;
    }
    if (mac->length != (int)prf.out) return -1;

    // The authenticated content: the octets of the authSafe ContentInfo,
    // decoded by the same PKCS#7 template d2i_PKCS12 used on these bytes.
    const unsigned char *p = der;
    long len = 0;
    int tag = 0, cls = 0;
    int r = ASN1_get_object(&p, &len, &tag, &cls, derlen);
    if ((r & 0x80) || !(r & V_ASN1_CONSTRUCTED) || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL) goto unhandled;
    long left = derlen - (long)(p - der);
    const unsigned char *q = p;
    r = ASN1_get_object(&q, &len, &tag, &cls, left);
    if ((r & 0x80) || (r & V_ASN1_CONSTRUCTED) || tag != V_ASN1_INTEGER || cls != V_ASN1_UNIVERSAL) goto unhandled;
    if (len < 0 || len > left - (long)(q - p)) goto unhandled;
    q += len;
    left -= (long)(q - p);
    PKCS7 *p7 = d2i_PKCS7(NULL, &q, left);
    if (p7 == NULL) goto unhandled;
    if (!PKCS7_type_is_data(p7) || p7->d.data == NULL) {
        PKCS7_free(p7);
        goto unhandled;
    }

    unsigned char key[64], pad[64], md[SHA256_DIGEST_LENGTH];
    cv_sha_ctx c;
    int ok = pkcs12_mac_key(&prf, pass, passlen, salt->data, salt->length, iter, key);
    if (ok) {
        memset(key + prf.out, 0, sizeof key - prf.out);
        for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x36;
        prf_init(&prf, &c);
        prf_update(&prf, &c, pad, 64);
        prf_update(&prf, &c, p7->d.data->data, (size_t)p7->d.data->length);
        prf_final(&prf, &c, md);
        for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x5c;
        prf_init(&prf, &c);
        prf_update(&prf, &c, pad, 64);
        prf_update(&prf, &c, md, prf.out);
        prf_final(&prf, &c, md);
        ok = CRYPTO_memcmp(md, mac->data, prf.out) == 0 ? 1 : 0;
    } else {
        ok = -1;
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(md, sizeof md);
    OPENSSL_cleanse(&c, sizeof c);
    PKCS7_free(p7);
    return ok;

unhandled:
    ERR_clear_error();
    return -1;
}

// The PBES2 key and IV set-up of PKCS5_v2_PBE_keyivgen, with the PBKDF2
// above; OpenSSL's own for whatever this does not handle.
static int cv_pbes2_keyivgen(EVP_CIPHER_CTX *ctx, const char *pass, int passlen, ASN1_TYPE *param,
                             const EVP_CIPHER *c, const EVP_MD *md, int en_de) {
    int ok = -1;  // -1: hand to OpenSSL
    PBE2PARAM *pbe2 = NULL;
    PBKDF2PARAM *kdf = NULL;
    EVP_CIPHER *cipher = NULL;
    unsigned char key[EVP_MAX_KEY_LENGTH];
    int keylen = 0;

    pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), param);
    if (pbe2 == NULL || OBJ_obj2nid(pbe2->keyfunc->algorithm) != NID_id_pbkdf2) goto done;
    kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
    if (kdf == NULL || kdf->salt == NULL || kdf->salt->type != V_ASN1_OCTET_STRING) goto done;
    int prf = kdf->prf != NULL ? OBJ_obj2nid(kdf->prf->algorithm) : NID_hmacWithSHA1;
    int md_nid = prf == NID_hmacWithSHA256 ? NID_sha256 : prf == NID_hmacWithSHA1 ? NID_sha1 : NID_undef;
    if (md_nid == NID_undef) goto done;
    long iter = ASN1_INTEGER_get(kdf->iter);
    if (iter < 1 || iter > 0x7fffffffL) goto done;
    const char *name = OBJ_nid2sn(OBJ_obj2nid(pbe2->encryption->algorithm));
    if (name == NULL) goto done;
    ERR_set_mark();
    cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    ERR_pop_to_mark();
    if (cipher == NULL) goto done;

    // From here on a failure is this file's, as OpenSSL would report it.
    ok = 0;
    if (!EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, en_de)) goto done;
    // As OpenSSL: missing or unreadable cipher parameters (an IV) fail the file.
    if (EVP_CIPHER_asn1_to_param(ctx, pbe2->encryption->parameter) <= 0) {
        ERR_raise(ERR_LIB_EVP, EVP_R_CIPHER_PARAMETER_ERROR);
        goto done;
    }
    keylen = EVP_CIPHER_CTX_get_key_length(ctx);
    if (keylen <= 0 || keylen > (int)sizeof key) {
        ERR_raise(ERR_LIB_EVP, EVP_R_INVALID_KEY_LENGTH);
        goto done;
    }
    if (kdf->keylength != NULL && ASN1_INTEGER_get(kdf->keylength) != keylen) {
        ERR_raise(ERR_LIB_EVP, EVP_R_UNSUPPORTED_KEYLENGTH);
        goto done;
    }
    ASN1_OCTET_STRING *salt = kdf->salt->value.octet_string;
    if (!cv_pbkdf2_hmac(pass, passlen, salt->data, salt->length, (int)iter, md_nid, key, keylen)) goto done;
    ok = EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, en_de) ? 1 : 0;

done:
    OPENSSL_cleanse(key, sizeof key);
    EVP_CIPHER_free(cipher);
    PBKDF2PARAM_free(kdf);
    PBE2PARAM_free(pbe2);
    if (ok < 0) return PKCS5_v2_PBE_keyivgen(ctx, pass, passlen, param, c, md, en_de);
    return ok;
}

static int installed = 0;
static void install(void) {
    // Added, it is what OpenSSL calls (the table of added algorithms is
    // searched first), whatever the check below says.
    if (!EVP_PBE_alg_add_type(EVP_PBE_TYPE_OUTER, NID_pbes2, -1, -1, cv_pbes2_keyivgen)) return;
    // The first lookup sorts that table; done here, once, so that lookups
    // from several threads later only read it.
    EVP_PBE_KEYGEN *keygen = NULL;
    int found = EVP_PBE_find(EVP_PBE_TYPE_OUTER, NID_pbes2, NULL, NULL, &keygen) && keygen == cv_pbes2_keyivgen;
    __atomic_store_n(&installed, found, __ATOMIC_RELEASE);
}

int cv_pbkdf2_install(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install);
    return installed;
}

int cv_pbkdf2_active(void) { return __atomic_load_n(&installed, __ATOMIC_ACQUIRE); }
