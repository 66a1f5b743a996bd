#define _GNU_SOURCE
#include "CertVaultNative.h"
#include <openssl/evp.h>
#include <openssl/core.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sqlite3.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int cv_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
X509 *cv_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
STACK_OF(X509) *cv_sk_X509_new_null(void) { return sk_X509_new_null(); }
int cv_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
void cv_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }
void cv_sk_X509_free_shallow(STACK_OF(X509) *sk) { sk_X509_free(sk); }

int cv_sk_PKCS7_num(const STACK_OF(PKCS7) *sk) { return sk_PKCS7_num(sk); }
PKCS7 *cv_sk_PKCS7_value(const STACK_OF(PKCS7) *sk, int i) { return sk_PKCS7_value(sk, i); }
void cv_sk_PKCS7_pop_free(STACK_OF(PKCS7) *sk) { sk_PKCS7_pop_free(sk, PKCS7_free); }
int cv_PKCS7_type_nid(const PKCS7 *p7) { return OBJ_obj2nid(p7->type); }

int cv_sk_PKCS12_SAFEBAG_num(const STACK_OF(PKCS12_SAFEBAG) *sk) { return sk_PKCS12_SAFEBAG_num(sk); }
PKCS12_SAFEBAG *cv_sk_PKCS12_SAFEBAG_value(const STACK_OF(PKCS12_SAFEBAG) *sk, int i) { return sk_PKCS12_SAFEBAG_value(sk, i); }
void cv_sk_PKCS12_SAFEBAG_pop_free(STACK_OF(PKCS12_SAFEBAG) *sk) { sk_PKCS12_SAFEBAG_pop_free(sk, PKCS12_SAFEBAG_free); }

const unsigned char *cv_PKCS12_SAFEBAG_local_key_id(const PKCS12_SAFEBAG *bag, int *len) {
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
    if (t == NULL || t->type != V_ASN1_OCTET_STRING || t->value.octet_string == NULL) { *len = 0; return NULL; }
    *len = ASN1_STRING_length(t->value.octet_string);
    return ASN1_STRING_get0_data(t->value.octet_string);
}

int cv_PKCS12_SAFEBAG_friendly_name(const PKCS12_SAFEBAG *bag, const unsigned char **data, int *len) {
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_friendlyName);
    if (t == NULL || t->value.asn1_string == NULL) { *data = NULL; *len = 0; return 0; }
    *data = ASN1_STRING_get0_data(t->value.asn1_string);
    *len = ASN1_STRING_length(t->value.asn1_string);
    return t->type;
}

int cv_sk_GENERAL_NAME_num(const GENERAL_NAMES *sk) { return sk_GENERAL_NAME_num(sk); }
GENERAL_NAME *cv_sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i) { return sk_GENERAL_NAME_value(sk, i); }
int cv_GENERAL_NAME_get(const GENERAL_NAME *name, const unsigned char **data, int *len) {
    const ASN1_STRING *s = NULL;
    switch (name->type) {
    case GEN_DNS: s = name->d.dNSName; break;
    case GEN_EMAIL: s = name->d.rfc822Name; break;
    case GEN_URI: s = name->d.uniformResourceIdentifier; break;
    case GEN_IPADD: s = name->d.iPAddress; break;
    default: *data = NULL; *len = 0; return name->type;
    }
    *data = ASN1_STRING_get0_data(s);
    *len = ASN1_STRING_length(s);
    return name->type;
}

int cv_X509_NAME_print_rfc2253(BIO *bio, const X509_NAME *name) {
    return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
}

long cv_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
void cv_OPENSSL_free(void *p) { OPENSSL_free(p); }
void cv_OPENSSL_clear_free(void *p, size_t len) { OPENSSL_clear_free(p, len); }

EVP_PKEY *cv_keygen_rsa(size_t bits) { return EVP_PKEY_Q_keygen(cv_libctx(), NULL, "RSA", bits); }
EVP_PKEY *cv_keygen_ec(const char *curve) { return EVP_PKEY_Q_keygen(cv_libctx(), NULL, "EC", curve); }

STACK_OF(X509) *cv_PKCS7_certificates(PKCS7 *p7) {
    switch (OBJ_obj2nid(p7->type)) {
    case NID_pkcs7_signed: return p7->d.sign ? p7->d.sign->cert : NULL;
    case NID_pkcs7_signedAndEnveloped: return p7->d.signed_and_enveloped ? p7->d.signed_and_enveloped->cert : NULL;
    default: return NULL;
    }
}

EVP_PKEY *cv_decode_private_key(const unsigned char *data, size_t len, const char *pass, size_t passlen) {
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *ctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL,
        OSSL_KEYMGMT_SELECT_KEYPAIR | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS, cv_libctx(), NULL);
    if (ctx == NULL) return NULL;
    /* Always set a passphrase, so that OpenSSL never falls back to a prompt. */
    OSSL_DECODER_CTX_set_passphrase(ctx, (const unsigned char *)(pass ? pass : ""), pass ? passlen : 0);
    const unsigned char *p = data;
    size_t left = len;
    int ok = OSSL_DECODER_from_data(ctx, &p, &left);
    OSSL_DECODER_CTX_free(ctx);
    if (!ok) { EVP_PKEY_free(pkey); return NULL; }
    return pkey;
}

int cv_write_encrypted_pkcs8(BIO *bio, EVP_PKEY *pkey, const char *pass, int passlen, int iter) {
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    if (p8 == NULL) return 0;
    EVP_CIPHER *aes = EVP_CIPHER_fetch(cv_libctx(), "AES-256-CBC", NULL);
    X509_SIG *sig = aes == NULL ? NULL : PKCS8_encrypt_ex(-1, aes, pass, passlen, NULL, 0, iter, p8, cv_libctx(), NULL);
    EVP_CIPHER_free(aes);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (sig == NULL) return 0;
    int ok = PEM_write_bio_PKCS8(bio, sig);
    X509_SIG_free(sig);
    return ok;
}

X509_REQ *cv_make_csr(EVP_PKEY *pkey, const X509_NAME *subject, const char *san) {
    X509_REQ *req = X509_REQ_new();
    if (req == NULL) return NULL;
    int ok = X509_REQ_set_version(req, 0) && X509_REQ_set_subject_name(req, subject) && X509_REQ_set_pubkey(req, pkey);
    if (ok && san != NULL && san[0] != 0) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        ok = exts != NULL && ext != NULL && sk_X509_EXTENSION_push(exts, ext) && X509_REQ_add_extensions(req, exts);
        if (!ok && ext != NULL && (exts == NULL || sk_X509_EXTENSION_num(exts) == 0)) X509_EXTENSION_free(ext);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    int id = EVP_PKEY_get_base_id(pkey);
    const EVP_MD *md = (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? NULL : EVP_sha256();
    if (ok) ok = X509_REQ_sign(req, pkey, md) > 0;
    if (!ok) { X509_REQ_free(req); return NULL; }
    return req;
}

int cv_X509_eku_text(X509 *x, char *buf, int len) {
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    buf[0] = 0;
    if (eku == NULL) return 0;
    int used = 0;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
        char name[128];
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        int nid = OBJ_obj2nid(o);
        const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
        if (sn) { strncpy(name, sn, sizeof name - 1); name[sizeof name - 1] = 0; }
        else OBJ_obj2txt(name, sizeof name, o, 1);
        int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", name);
        if (n < 0 || n >= len - used) break;
        used += n;
    }
    EXTENDED_KEY_USAGE_free(eku);
    return used;
}

int cv_disable_core_dumps(void) {
    struct rlimit none = {0, 0};
    int a = setrlimit(RLIMIT_CORE, &none);
    int b = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return (a == 0 && b == 0) ? 0 : -1;
}

int cv_sqlite_harden(void *db) {
    sqlite3 *conn = (sqlite3 *)db;
    int on = -1, rc;
    rc = sqlite3_db_config(conn, SQLITE_DBCONFIG_DEFENSIVE, 1, &on);
    if (rc != SQLITE_OK) return rc;
    if (on != 1) return SQLITE_ERROR;
    rc = sqlite3_db_config(conn, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on);
    if (rc != SQLITE_OK) return rc;
    if (on != 0) return SQLITE_ERROR;
    rc = sqlite3_db_config(conn, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &on);
    if (rc != SQLITE_OK) return rc;
    if (on != 0) return SQLITE_ERROR;
    return sqlite3_enable_load_extension(conn, 0);
}

int cv_open_tmpfile(const char *dir, unsigned int mode) {
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, (mode_t)mode);
}

/* An iteration count as written: INT64_MAX when it does not fit. */
static int64_t cv_iter_value(const ASN1_INTEGER *i) {
    int64_t v = 0;
    if (i == NULL) return 1;
    if (ASN1_INTEGER_get_int64(&v, i) != 1) return INT64_MAX;
    return v;
}

static uint64_t cv_scrypt_value(const ASN1_INTEGER *i) {
    uint64_t v = 0;
    if (i == NULL || ASN1_INTEGER_get_uint64(&v, i) != 1) return UINT64_MAX;
    return v;
}

static int cv_octets_len(const ASN1_TYPE *t) {
    if (t == NULL || t->type != V_ASN1_OCTET_STRING || t->value.octet_string == NULL) return -1;
    return ASN1_STRING_length(t->value.octet_string);
}

int cv_pbe_describe(const X509_ALGOR *alg, cv_pbe_info *out) {
    const ASN1_OBJECT *obj = NULL;
    int ptype = 0;
    const void *pval = NULL;
    memset(out, 0, sizeof(*out));
    out->salt_len = -1;
    if (alg == NULL) return -1;
    X509_ALGOR_get0(&obj, &ptype, &pval, alg);
    out->scheme = OBJ_obj2nid(obj);
    if (ptype != V_ASN1_SEQUENCE || pval == NULL) return -1;
    const ASN1_STRING *seq = pval;
    if (out->scheme == NID_pbes2) {
        PBE2PARAM *pbe2 = ASN1_item_unpack(seq, ASN1_ITEM_rptr(PBE2PARAM));
        if (pbe2 == NULL) return -1;
        int rc = -1;
        if (pbe2->encryption != NULL) out->cipher = OBJ_obj2nid(pbe2->encryption->algorithm);
        const X509_ALGOR *kf = pbe2->keyfunc;
        if (kf != NULL && kf->parameter != NULL && kf->parameter->type == V_ASN1_SEQUENCE) {
            out->kdf = OBJ_obj2nid(kf->algorithm);
            if (out->kdf == NID_id_pbkdf2) {
                PBKDF2PARAM *kdf = ASN1_item_unpack(kf->parameter->value.sequence, ASN1_ITEM_rptr(PBKDF2PARAM));
                if (kdf != NULL) {
                    out->iter = kdf->iter == NULL ? 0 : cv_iter_value(kdf->iter);
                    out->prf = kdf->prf == NULL ? NID_hmacWithSHA1 : OBJ_obj2nid(kdf->prf->algorithm);
                    out->salt_len = cv_octets_len(kdf->salt);
                    PBKDF2PARAM_free(kdf);
                    rc = 0;
                }
            } else if (out->kdf == NID_id_scrypt) {
                SCRYPT_PARAMS *sp = ASN1_item_unpack(kf->parameter->value.sequence, ASN1_ITEM_rptr(SCRYPT_PARAMS));
                if (sp != NULL) {
                    out->scrypt = 1;
                    out->n = cv_scrypt_value(sp->costParameter);
                    out->r = cv_scrypt_value(sp->blockSize);
                    out->p = cv_scrypt_value(sp->parallelizationParameter);
                    out->salt_len = sp->salt == NULL ? -1 : ASN1_STRING_length(sp->salt);
                    rc = 0;
                    SCRYPT_PARAMS_free(sp);
                }
            }
        }
        PBE2PARAM_free(pbe2);
        return rc;
    }
    PBEPARAM *pbe = ASN1_item_unpack(seq, ASN1_ITEM_rptr(PBEPARAM));
    if (pbe == NULL) return -1;
    out->iter = pbe->iter == NULL ? 0 : cv_iter_value(pbe->iter);
    out->salt_len = pbe->salt == NULL ? -1 : ASN1_STRING_length(pbe->salt);
    PBEPARAM_free(pbe);
    return 0;
}

int cv_pkcs12_mac_describe(const PKCS12 *p12, int *md_nid, int64_t *iter, int *salt_len) {
    const X509_SIG *mac = NULL;
    const X509_ALGOR *macalg = NULL;
    const ASN1_OCTET_STRING *salt = NULL;
    const ASN1_INTEGER *it = NULL;
    *md_nid = 0; *iter = 0; *salt_len = -1;
    if (PKCS12_mac_present(p12) != 1) return -1;
    PKCS12_get0_mac(NULL, &macalg, &salt, &it, p12);
    (void)mac;
    if (macalg != NULL) {
        const ASN1_OBJECT *obj = NULL;
        X509_ALGOR_get0(&obj, NULL, NULL, macalg);
        *md_nid = OBJ_obj2nid(obj);
    }
    *iter = cv_iter_value(it);
    *salt_len = salt == NULL ? -1 : ASN1_STRING_length(salt);
    return 0;
}

const X509_ALGOR *cv_PKCS7_encrypted_algor(const PKCS7 *p7) {
    if (p7 == NULL || OBJ_obj2nid(p7->type) != NID_pkcs7_encrypted || p7->d.encrypted == NULL
        || p7->d.encrypted->enc_data == NULL)
        return NULL;
    return p7->d.encrypted->enc_data->algorithm;
}

const X509_ALGOR *cv_SAFEBAG_shrouded_algor(const PKCS12_SAFEBAG *bag) {
    const X509_SIG *sig = PKCS12_SAFEBAG_get0_pkcs8(bag);
    if (sig == NULL) return NULL;
    const X509_ALGOR *alg = NULL;
    X509_SIG_get0(sig, &alg, NULL);
    return alg;
}

const X509_ALGOR *cv_X509_SIG_algor(const X509_SIG *sig) {
    const X509_ALGOR *alg = NULL;
    X509_SIG_get0(sig, &alg, NULL);
    return alg;
}

int cv_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len) {
    if (needle_len == 0) return 1;
    if (haystack == NULL || needle == NULL || haystack_len < needle_len) return 0;
    return memmem(haystack, haystack_len, needle, needle_len) != NULL;
}

static void cv_be64(unsigned char *out, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

size_t cv_sqlite_frame_row(void *statement, int ncols, unsigned char *buf, size_t cap) {
    sqlite3_stmt *stmt = (sqlite3_stmt *)statement;
    size_t n = 0;
    for (int i = 0; i < ncols; i++) {
        unsigned char tag, number[8];
        const void *bytes = NULL;
        size_t len = 0;
        switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
            cv_be64(number, (uint64_t)sqlite3_column_int64(stmt, i));
            bytes = number, len = 8, tag = 1;
            break;
        case SQLITE_FLOAT: {
            double d = sqlite3_column_double(stmt, i);
            uint64_t bits;
            memcpy(&bits, &d, 8);
            cv_be64(number, bits);
            bytes = number, len = 8, tag = 3;
            break;
        }
        case SQLITE_TEXT:
            bytes = sqlite3_column_text(stmt, i);
            len = bytes ? (size_t)sqlite3_column_bytes(stmt, i) : 0;
            tag = 4;
            break;
        case SQLITE_BLOB:
            bytes = sqlite3_column_blob(stmt, i);
            len = bytes ? (size_t)sqlite3_column_bytes(stmt, i) : 0;
            tag = 5;
            break;
        default:
            tag = 6;
            break;
        }
        if (n + 9 + len <= cap) {
            buf[n] = tag;
            cv_be64(buf + n + 1, (uint64_t)len);
            if (len) memcpy(buf + n + 9, bytes, len);
        }
        n += 9 + len;
    }
    return n;
}

// EVP_PKCS82PKEY in certvault's context, with decoder contexts kept in a
// pool. OpenSSL 3.0 builds that context anew for every key, which is most
// of the cost of reading one; decoding into it again gives the same key.
// A slot is taken by one thread at a time; there is no thread-local state
// and no exit handler: the pool lives as long as the process.
typedef struct {
    char keytype[80];
    OSSL_DECODER_CTX *dctx;
    EVP_PKEY *slot;  // where the context puts the key it decoded
    int busy;
} cv_p8_decoder;

#define CV_P8_POOL 16
static cv_p8_decoder p8_pool[CV_P8_POOL];
static pthread_mutex_t p8_pool_lock = PTHREAD_MUTEX_INITIALIZER;

// A free decoder for `keytype` (made if need be, in a free slot), marked
// busy; NULL when every slot is busy or the decoder cannot be made.
static cv_p8_decoder *p8_take(const char *keytype) {
    cv_p8_decoder *found = NULL, *spare = NULL;
    pthread_mutex_lock(&p8_pool_lock);
    for (int i = 0; i < CV_P8_POOL && found == NULL; i++) {
        cv_p8_decoder *d = &p8_pool[i];
        if (d->busy) continue;
        if (d->dctx != NULL && strcmp(d->keytype, keytype) == 0) found = d;
        else if (spare == NULL || (spare->dctx != NULL && d->dctx == NULL)) spare = d;
    }
    if (found == NULL) found = spare;
    if (found != NULL) found->busy = 1;
    pthread_mutex_unlock(&p8_pool_lock);
    if (found == NULL || (found->dctx != NULL && strcmp(found->keytype, keytype) == 0)) return found;
    // A slot of another key type (or an empty one) gets a decoder for this one.
    OSSL_DECODER_CTX_free(found->dctx);
    found->keytype[0] = 0;
    ERR_set_mark();
    found->dctx = OSSL_DECODER_CTX_new_for_pkey(&found->slot, "DER", "PrivateKeyInfo", keytype,
                                                EVP_PKEY_KEYPAIR | EVP_PKEY_KEY_PARAMETERS, cv_libctx(), NULL);
    ERR_pop_to_mark();
    if (found->dctx != NULL && OSSL_DECODER_CTX_get_num_decoders(found->dctx) == 0) {
        OSSL_DECODER_CTX_free(found->dctx);
        found->dctx = NULL;
    }
    if (found->dctx != NULL) snprintf(found->keytype, sizeof found->keytype, "%s", keytype);
    return found;
}

static void p8_give_back(cv_p8_decoder *d) {
    pthread_mutex_lock(&p8_pool_lock);
    d->busy = 0;
    pthread_mutex_unlock(&p8_pool_lock);
}

EVP_PKEY *cv_pkcs8_to_pkey(const PKCS8_PRIV_KEY_INFO *p8) {
    const ASN1_OBJECT *algoid = NULL;
    char keytype[80];
    OSSL_LIB_CTX *libctx = cv_libctx();
    if (libctx == NULL) return NULL;
    if (p8 == NULL || !PKCS8_pkey_get0(&algoid, NULL, NULL, NULL, p8)) return EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    int n = OBJ_obj2txt(keytype, sizeof keytype, algoid, 0);
    if (n <= 0 || n >= (int)sizeof keytype) return EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    cv_p8_decoder *d = p8_take(keytype);
    if (d == NULL) return EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    if (d->dctx == NULL) {
        p8_give_back(d);
        return EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    }
    unsigned char *der = NULL;
    int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    if (len <= 0 || der == NULL) {
        OPENSSL_free(der);
        p8_give_back(d);
        return EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    }
    const unsigned char *p = der;
    size_t left = (size_t)len;
    EVP_PKEY_free(d->slot);
    d->slot = NULL;
    ERR_set_mark();
    int ok = OSSL_DECODER_from_data(d->dctx, &p, &left);
    EVP_PKEY *pkey = d->slot;
    d->slot = NULL;
    p8_give_back(d);
    OPENSSL_clear_free(der, (size_t)len);
    if (!ok || pkey == NULL) {
        // Whatever went wrong, OpenSSL's own says it (or reads it after all).
        ERR_pop_to_mark();
        EVP_PKEY_free(pkey);
        return EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    }
    ERR_clear_last_mark();
    return pkey;
}
