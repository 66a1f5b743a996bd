#include "CertVaultShims.h"
#include <openssl/evp.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int cv_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
X509 *cv_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
STACK_OF(X509) *cv_sk_X509_new_null(void) { return sk_X509_new_null(); }
int cv_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
void cv_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }

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

EVP_PKEY *cv_keygen_rsa(size_t bits) { return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits); }
EVP_PKEY *cv_keygen_ec(const char *curve) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve); }

int cv_disable_core_dumps(void) {
    struct rlimit none = {0, 0};
    int a = setrlimit(RLIMIT_CORE, &none);
    int b = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return (a == 0 && b == 0) ? 0 : -1;
}
