// PBKDF2 (RFC 8018 §5.2) with HMAC-SHA-1 or HMAC-SHA-256, and the PKCS#12
// key derivation (RFC 7292 appendix B), for certvault's own walk of a
// PKCS#12 file: the same bytes as OpenSSL's PKCS5_PBKDF2_HMAC and
// PKCS12_key_gen_utf8, at half the cost. OpenSSL 3.0 runs each iteration
// through EVP (a context copy, a provider lock and a malloc per HMAC, a
// digest fetch per PKCS#12 round); here the inner and outer HMAC states are
// computed once and each iteration is two compressions on a stack copy.
//
// Nothing here changes OpenSSL for the process: the derivations are called
// only from certvault's walk (pbe_init, cv_pkcs12_verify_mac), ciphers
// and other digests are fetched from certvault's own library context
// (cv_libctx), and OpenSSL's global PBE table is only read, never added to.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CertVaultNative.h"
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
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

// The digest for `md_nid`: 1 for SHA-1 and SHA-256, 0 for any other.
static int prf_for(int md_nid, cv_prf *p) {
    if (md_nid == NID_sha256) { p->sha256 = 1; p->out = SHA256_DIGEST_LENGTH; return 1; }
    if (md_nid == NID_sha1) { p->sha256 = 0; p->out = SHA_DIGEST_LENGTH; return 1; }
    return 0;
}

// HMAC's inner and outer states for a key of at most one block (64 bytes,
// zero-padded): each message is then an update of a copy of `inner`, and
// its MAC the final of a copy of `outer` updated with the inner digest.
static void hmac_states(const cv_prf *p, const unsigned char key[64], cv_sha_ctx *inner, cv_sha_ctx *outer) {
    unsigned char pad[64];
    for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x36;
    prf_init(p, inner);
    prf_update(p, inner, pad, 64);
    for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x5c;
    prf_init(p, outer);
    prf_update(p, outer, pad, 64);
    OPENSSL_cleanse(pad, sizeof pad);
}

int cv_pbkdf2_hmac(const char *pass, int passlen, const unsigned char *salt, int saltlen, int iter,
                   int md_nid, unsigned char *out, int outlen) {
    cv_prf prf;
    if (!prf_for(md_nid, &prf)) return 0;
    if (iter < 1 || outlen < 0 || saltlen < 0 || (salt == NULL && saltlen > 0)) return 0;
    if (pass == NULL) { pass = ""; passlen = 0; }
    else if (passlen == -1) passlen = (int)strlen(pass);
    if (passlen < 0) return 0;

    // HMAC key: the password, hashed first when longer than a block.
    unsigned char key[64], u[SHA256_DIGEST_LENGTH], t[SHA256_DIGEST_LENGTH], be[4];
    cv_sha_ctx inner, outer, c;
    memset(key, 0, sizeof key);
    if ((size_t)passlen > 64) {
        prf_init(&prf, &c);
        prf_update(&prf, &c, pass, (size_t)passlen);
        prf_final(&prf, &c, key);
    } else if (passlen > 0) {
        memcpy(key, pass, (size_t)passlen);
    }
    hmac_states(&prf, key, &inner, &outer);

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
    OPENSSL_cleanse(u, sizeof u);
    OPENSSL_cleanse(t, sizeof t);
    OPENSSL_cleanse(&inner, sizeof inner);
    OPENSSL_cleanse(&outer, sizeof outer);
    OPENSSL_cleanse(&c, sizeof c);
    return 1;
}

// The PKCS#12 key derivation (RFC 7292 appendix B.2) with SHA-1 or SHA-256
// (u = 20 or 32 bytes out a block, v = 64 bytes in), over the password
// already in BMPString form (`uni`, NULL and 0 for none): n bytes for `id`
// (1 key, 2 IV, 3 MAC key). For each u bytes wanted, A = H^iter(D || I);
// between blocks, every v-byte block of I gains B + 1, B being A repeated.
static int pkcs12_kdf(const cv_prf *prf, const unsigned char *uni, int unilen, const unsigned char *salt,
                      int saltlen, int id, long iter, unsigned char *out, size_t n) {
    const size_t v = 64, u = prf->out;
    if (iter < 1 || unilen < 0 || saltlen < 0 || (saltlen > 0 && salt == NULL)) return 0;
    size_t slen = saltlen > 0 ? v * (((size_t)saltlen + v - 1) / v) : 0;
    size_t plen = unilen > 0 ? v * (((size_t)unilen + v - 1) / v) : 0;
    size_t ilen = slen + plen;
    // No salt and no password: OpenSSL's derivation fails, and so does this.
    if (ilen == 0) return 0;
    unsigned char *I = OPENSSL_malloc(ilen);
    if (I == NULL) return 0;
    for (size_t k = 0; k < slen; k++) I[k] = salt[k % (size_t)saltlen];
    for (size_t k = 0; k < plen; k++) I[slen + k] = uni[k % (size_t)unilen];
    unsigned char D[64], A[SHA256_DIGEST_LENGTH], B[64];
    memset(D, id, v);
    cv_sha_ctx c;
    for (;;) {
        prf_init(prf, &c);
        prf_update(prf, &c, D, v);
        prf_update(prf, &c, I, ilen);
        prf_final(prf, &c, A);
        for (long j = 1; j < iter; j++) {
            prf_init(prf, &c);
            prf_update(prf, &c, A, u);
            prf_final(prf, &c, A);
        }
        size_t take = n < u ? n : u;
        memcpy(out, A, take);
        out += take;
        n -= take;
        if (n == 0) break;
        for (size_t k = 0; k < v; k++) B[k] = A[k % u];
        for (size_t blk = 0; blk < ilen; blk += v) {
            // I_j = (I_j + B + 1) mod 2^(8v), big-endian.
            unsigned int carry = 1;
            for (size_t k = v; k-- > 0;) {
                carry += (unsigned int)I[blk + k] + B[k];
                I[blk + k] = (unsigned char)carry;
                carry >>= 8;
            }
        }
    }
    OPENSSL_cleanse(A, sizeof A);
    OPENSSL_cleanse(B, sizeof B);
    OPENSSL_cleanse(&c, sizeof c);
    OPENSSL_clear_free(I, ilen);
    return 1;
}

// pkcs12_kdf with the password as OpenSSL's PKCS12_key_gen_utf8 takes it:
// UTF-8 (passlen -1: strlen), made BMPString by OPENSSL_utf82uni; NULL is
// no password at all, where "" is its two zero bytes.
static int pkcs12_kdf_utf8(const cv_prf *prf, const char *pass, int passlen, const unsigned char *salt, int saltlen,
                           int id, long iter, unsigned char *out, size_t n) {
    unsigned char *uni = NULL;
    int unilen = 0;
    if (pass != NULL && !OPENSSL_utf82uni(pass, passlen, &uni, &unilen)) return 0;
    int ok = pkcs12_kdf(prf, uni, unilen, salt, saltlen, id, iter, out, n);
    OPENSSL_clear_free(uni, (size_t)unilen);
    return ok;
}

int cv_pkcs12_kdf(const char *pass, int passlen, const unsigned char *salt, int saltlen, int id, int iter,
                  int md_nid, unsigned char *out, int n) {
    cv_prf prf;
    if (!prf_for(md_nid, &prf) || n < 0) return 0;
    return pkcs12_kdf_utf8(&prf, pass, passlen, salt, saltlen, id, iter, out, (size_t)n);
}

// The octets a PKCS#12 MAC covers: the content of the authSafe ContentInfo,
// decoded by the same PKCS#7 template d2i_PKCS12 used on these bytes (BER
// included). The PKCS7 holding them, or NULL.
static PKCS7 *authsafe_data(const unsigned char *der, long derlen) {
    const unsigned char *p = der;
    long len = 0;
    int tag = 0, cls = 0;
    int r = ASN1_get_object(&p, &len, &tag, &cls, derlen);
    if ((r & 0x80) || !(r & V_ASN1_CONSTRUCTED) || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL) return NULL;
    long left = derlen - (long)(p - der);
    const unsigned char *q = p;
    r = ASN1_get_object(&q, &len, &tag, &cls, left);
    if ((r & 0x80) || (r & V_ASN1_CONSTRUCTED) || tag != V_ASN1_INTEGER || cls != V_ASN1_UNIVERSAL) return NULL;
    if (len < 0 || len > left - (long)(q - p)) return NULL;
    q += len;
    left -= (long)(q - p);
    PKCS7 *p7 = d2i_PKCS7(NULL, &q, left);
    if (p7 == NULL) return NULL;
    if (!PKCS7_type_is_data(p7) || p7->d.data == NULL) {
        PKCS7_free(p7);
        return NULL;
    }
    return p7;
}

int cv_pkcs12_verify_mac(const PKCS12 *p12, const unsigned char *der, long derlen, const char *pass, int passlen) {
    const ASN1_OCTET_STRING *mac = NULL, *salt = NULL;
    const X509_ALGOR *macalg = NULL;
    const ASN1_INTEGER *iter_asn1 = NULL;
    OSSL_LIB_CTX *libctx = cv_libctx();
    if (libctx == NULL || p12 == NULL || der == NULL || derlen <= 0 || passlen < 0) return -1;
    PKCS12_get0_mac(&mac, &macalg, &salt, &iter_asn1, p12);
    if (mac == NULL || macalg == NULL || salt == NULL) {
        ERR_raise(ERR_LIB_PKCS12, PKCS12_R_MAC_ABSENT);
        return -1;
    }
    const ASN1_OBJECT *oid = NULL;
    X509_ALGOR_get0(&oid, NULL, NULL, macalg);
    int md_nid = OBJ_obj2nid(oid);
    long iter = 1;
    if (iter_asn1 != NULL) {
        iter = ASN1_INTEGER_get(iter_asn1);
        if (iter < 1 || iter > 0x7fffffffL) {
            ERR_raise(ERR_LIB_PKCS12, PKCS12_R_DECODE_ERROR);
            return -1;
        }
    }
    PKCS7 *p7 = authsafe_data(der, derlen);
    if (p7 == NULL) {
        ERR_raise(ERR_LIB_PKCS12, PKCS12_R_DECODE_ERROR);
        return -1;
    }
    const unsigned char *data = p7->d.data->data;
    size_t datalen = (size_t)p7->d.data->length;
    unsigned char key[EVP_MAX_MD_SIZE], md[EVP_MAX_MD_SIZE];
    int ok = 0;
    cv_prf prf;
    if (prf_for(md_nid, &prf)) {
        // SHA-1 and SHA-256: the key over the digests' compressions, as above.
        cv_sha_ctx c, outer;
        unsigned char block[64];
        memset(block, 0, sizeof block);
        if (mac->length == (int)prf.out
            && pkcs12_kdf_utf8(&prf, pass, passlen, salt->data, salt->length, 3, iter, block, prf.out)) {
            hmac_states(&prf, block, &c, &outer);
            prf_update(&prf, &c, data, datalen);
            prf_final(&prf, &c, md);
            prf_update(&prf, &outer, md, prf.out);
            prf_final(&prf, &outer, md);
            ok = CRYPTO_memcmp(md, mac->data, prf.out) == 0 ? 1 : 0;
        }
        OPENSSL_cleanse(block, sizeof block);
        OPENSSL_cleanse(&c, sizeof c);
        OPENSSL_cleanse(&outer, sizeof outer);
    } else {
        // Any other digest: OpenSSL's derivation and HMAC, in certvault's own context.
        EVP_MD *digest = EVP_MD_fetch(libctx, OBJ_nid2sn(md_nid), NULL);
        if (digest == NULL) {
            ok = -1;  // the error on the queue says the digest is unknown
        } else {
            int size = EVP_MD_get_size(digest);
            size_t outlen = 0;
            if (size > 0 && mac->length == size
                && PKCS12_key_gen_utf8_ex(pass, passlen, salt->data, salt->length, PKCS12_MAC_ID, (int)iter, size,
                                          key, digest, libctx, NULL)
                && EVP_Q_mac(libctx, "HMAC", NULL, EVP_MD_get0_name(digest), NULL, key, (size_t)size, data, datalen,
                             md, sizeof md, &outlen) != NULL
                && outlen == (size_t)size)
                ok = CRYPTO_memcmp(md, mac->data, (size_t)size) == 0 ? 1 : 0;
            EVP_MD_free(digest);
        }
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(md, sizeof md);
    PKCS7_free(p7);
    if (ok == 0) ERR_raise(ERR_LIB_PKCS12, PKCS12_R_MAC_VERIFY_FAILURE);
    return ok;
}

// The PBES2 key and IV set-up of PKCS5_v2_PBE_keyivgen, with the PBKDF2
// above and the cipher from certvault's context; OpenSSL's own (in that
// context) for whatever this does not handle (scrypt, another PRF).
static int pbes2_init(OSSL_LIB_CTX *libctx, EVP_CIPHER_CTX *ctx, const char *pass, int passlen, ASN1_TYPE *param,
                      int en_de) {
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
    cipher = EVP_CIPHER_fetch(libctx, name, NULL);
    ERR_pop_to_mark();
    if (cipher == NULL) goto done;

    // From here on a failure is this file's, as OpenSSL would report it.
    ok = 0;
    if (!EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, en_de, NULL)) goto done;
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
    ok = EVP_CipherInit_ex2(ctx, NULL, key, NULL, en_de, NULL) ? 1 : 0;

done:
    OPENSSL_cleanse(key, sizeof key);
    EVP_CIPHER_free(cipher);
    PBKDF2PARAM_free(kdf);
    PBE2PARAM_free(pbe2);
    if (ok < 0) return PKCS5_v2_PBE_keyivgen_ex(ctx, pass, passlen, param, NULL, NULL, en_de, libctx, NULL);
    return ok;
}

// The key and IV set-up of PKCS12_PBE_keyivgen (the PKCS#12 PBEs: 3DES,
// RC2, RC4 with SHA-1), with the derivation above; OpenSSL's own (in
// certvault's context) for whatever this does not handle.
static int pkcs12_pbe_init(OSSL_LIB_CTX *libctx, EVP_CIPHER_CTX *ctx, const char *pass, int passlen,
                           ASN1_TYPE *param, const EVP_CIPHER *cipher, const EVP_MD *md, int en_de) {
    int ok = -1;  // -1: hand to OpenSSL
    PBEPARAM *pbe = NULL;
    unsigned char key[EVP_MAX_KEY_LENGTH], iv[EVP_MAX_IV_LENGTH];
    cv_prf prf;
    if (!prf_for(EVP_MD_get_type(md), &prf)) goto done;
    pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), param);
    if (pbe == NULL || pbe->salt == NULL) goto done;
    long iter = pbe->iter == NULL ? 1 : ASN1_INTEGER_get(pbe->iter);
    if (iter < 1 || iter > 0x7fffffffL) goto done;
    int keylen = EVP_CIPHER_get_key_length(cipher), ivlen = EVP_CIPHER_get_iv_length(cipher);
    if (keylen <= 0 || keylen > (int)sizeof key || ivlen < 0 || ivlen > (int)sizeof iv) goto done;
    if (pass != NULL && passlen < 0) passlen = (int)strlen(pass);
    unsigned char *uni = NULL;
    int unilen = 0;
    if (pass != NULL && !OPENSSL_utf82uni(pass, passlen, &uni, &unilen)) goto done;
    int derived = pkcs12_kdf(&prf, uni, unilen, pbe->salt->data, pbe->salt->length, 1, iter, key, (size_t)keylen)
                  && (ivlen == 0 || pkcs12_kdf(&prf, uni, unilen, pbe->salt->data, pbe->salt->length, 2, iter, iv,
                                               (size_t)ivlen));
    OPENSSL_clear_free(uni, (size_t)unilen);
    if (!derived) goto done;
    // From here on a failure is this file's, as OpenSSL would report it.
    ok = EVP_CipherInit_ex2(ctx, cipher, key, ivlen > 0 ? iv : NULL, en_de, NULL) ? 1 : 0;

done:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(iv, sizeof iv);
    PBEPARAM_free(pbe);
    if (ok < 0) return PKCS12_PBE_keyivgen_ex(ctx, pass, passlen, param, cipher, md, en_de, libctx, NULL);
    return ok;
}

// The PKCS#12 PBEs OpenSSL knows (evp_pbe.c), with their cipher and digest.
static const int pkcs12_pbes[][3] = {
    {NID_pbe_WithSHA1And128BitRC4, NID_rc4, NID_sha1},
    {NID_pbe_WithSHA1And40BitRC4, NID_rc4_40, NID_sha1},
    {NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_des_ede3_cbc, NID_sha1},
    {NID_pbe_WithSHA1And2_Key_TripleDES_CBC, NID_des_ede_cbc, NID_sha1},
    {NID_pbe_WithSHA1And128BitRC2_CBC, NID_rc2_cbc, NID_sha1},
    {NID_pbe_WithSHA1And40BitRC2_CBC, NID_rc2_40_cbc, NID_sha1},
};

// Sets up `ctx` to decrypt (en_de 0) or encrypt (1) under the password-based
// algorithm `alg` (PBES2, a PKCS#12 PBE, or a PKCS#5 v1 PBE), with keys
// derived by the code above where it can and ciphers from certvault's
// context. OpenSSL's global PBE table is only read. 1 on success.
static int pbe_init(EVP_CIPHER_CTX *ctx, const X509_ALGOR *alg, const char *pass, int passlen, int en_de) {
    OSSL_LIB_CTX *libctx = cv_libctx();
    if (libctx == NULL || ctx == NULL || alg == NULL) return 0;
    if (pass != NULL && passlen < 0) passlen = (int)strlen(pass);
    int nid = OBJ_obj2nid(alg->algorithm);
    if (nid == NID_pbes2) return pbes2_init(libctx, ctx, pass, passlen, alg->parameter, en_de);
    for (size_t i = 0; i < sizeof pkcs12_pbes / sizeof pkcs12_pbes[0]; i++) {
        if (pkcs12_pbes[i][0] != nid) continue;
        EVP_CIPHER *cipher = EVP_CIPHER_fetch(libctx, OBJ_nid2sn(pkcs12_pbes[i][1]), NULL);
        EVP_MD *md = EVP_MD_fetch(libctx, OBJ_nid2sn(pkcs12_pbes[i][2]), NULL);
        int ok = cipher != NULL && md != NULL
                 && pkcs12_pbe_init(libctx, ctx, pass, passlen, alg->parameter, cipher, md, en_de) == 1;
        EVP_CIPHER_free(cipher);
        EVP_MD_free(md);
        return ok;
    }
    // Anything else (PKCS#5 v1 PBEs): OpenSSL's own table, only read, in certvault's context.
    return EVP_PBE_CipherInit_ex(alg->algorithm, pass, passlen, alg->parameter, ctx, en_de, libctx, NULL);
}

// Runs `in` through pbe_init's cipher; `*out` (OPENSSL_malloc'd, to free
// with OPENSSL_clear_free) holds `*outlen` bytes. 1 on success.
static int pbe_crypt(const X509_ALGOR *alg, const char *pass, int passlen, const unsigned char *in, int inlen,
                     unsigned char **out, int *outlen, int en_de) {
    *out = NULL;
    *outlen = 0;
    if (in == NULL || inlen < 0) return 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return 0;
    int ok = 0, n = 0, last = 0;
    size_t cap = 0;
    unsigned char *buf = NULL;
    if (!pbe_init(ctx, alg, pass, passlen, en_de)) goto done;
    int block = EVP_CIPHER_CTX_get_block_size(ctx);
    if (block < 1) block = 1;
    cap = (size_t)inlen + (size_t)block;
    buf = OPENSSL_malloc(cap);
    if (buf == NULL) goto done;
    if (!EVP_CipherUpdate(ctx, buf, &n, in, inlen)) goto done;
    if (!EVP_CipherFinal_ex(ctx, buf + n, &last)) {
        ERR_raise(ERR_LIB_PKCS12, PKCS12_R_PKCS12_CIPHERFINAL_ERROR);
        goto done;
    }
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        OPENSSL_clear_free(buf, cap);
        return 0;
    }
    *out = buf;
    *outlen = n + last;
    return 1;
}

STACK_OF(PKCS12_SAFEBAG) *cv_pkcs12_decrypt_safe(const PKCS7 *p7, const char *pass, int passlen) {
    if (p7 == NULL || OBJ_obj2nid(p7->type) != NID_pkcs7_encrypted || p7->d.encrypted == NULL
        || p7->d.encrypted->enc_data == NULL || p7->d.encrypted->enc_data->enc_data == NULL) {
        ERR_raise(ERR_LIB_PKCS12, PKCS12_R_DECODE_ERROR);
        return NULL;
    }
    const PKCS7_ENC_CONTENT *ec = p7->d.encrypted->enc_data;
    unsigned char *plain = NULL;
    int len = 0;
    if (!pbe_crypt(ec->algorithm, pass, passlen, ec->enc_data->data, ec->enc_data->length, &plain, &len, 0))
        return NULL;
    const unsigned char *p = plain;
    STACK_OF(PKCS12_SAFEBAG) *bags = (STACK_OF(PKCS12_SAFEBAG) *)ASN1_item_d2i(NULL, &p, len,
                                                                               ASN1_ITEM_rptr(PKCS12_SAFEBAGS));
    OPENSSL_clear_free(plain, (size_t)len);
    if (bags == NULL) ERR_raise(ERR_LIB_PKCS12, PKCS12_R_DECODE_ERROR);
    return bags;
}

PKCS8_PRIV_KEY_INFO *cv_pkcs8_decrypt(const X509_SIG *sig, const char *pass, int passlen) {
    const X509_ALGOR *alg = NULL;
    const ASN1_OCTET_STRING *oct = NULL;
    if (sig == NULL) return NULL;
    X509_SIG_get0(sig, &alg, &oct);
    if (alg == NULL || oct == NULL) return NULL;
    unsigned char *plain = NULL;
    int len = 0;
    if (!pbe_crypt(alg, pass, passlen, oct->data, oct->length, &plain, &len, 0)) return NULL;
    const unsigned char *p = plain;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
    OPENSSL_clear_free(plain, (size_t)len);
    if (p8 == NULL) ERR_raise(ERR_LIB_PKCS12, PKCS12_R_DECODE_ERROR);
    return p8;
}

// A certificate's SHA-1 thumbprint and SHA-256 fingerprint, with the
// digests' own block functions: EVP_Digest fetches its digest, under a
// lock, on every call, which was most of checking 100,000 certificates.
void cv_thumbprints(const void *data, size_t n, unsigned char sha1[20], unsigned char sha256[32]) {
    SHA_CTX a;
    SHA256_CTX b;
    SHA1_Init(&a);
    SHA1_Update(&a, data, n);
    SHA1_Final(sha1, &a);
    SHA256_Init(&b);
    SHA256_Update(&b, data, n);
    SHA256_Final(sha256, &b);
    OPENSSL_cleanse(&a, sizeof a);
    OPENSSL_cleanse(&b, sizeof b);
}
