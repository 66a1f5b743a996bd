// certvault's own OpenSSL library context. Everything certvault asks of a
// provider beyond what OpenSSL's default context offers — the legacy
// ciphers (RC2, RC4, DES) of older .pfx files above all — is fetched here,
// so that the process's default context is never changed: no provider is
// loaded into it, no algorithm added to its tables. A host that configures
// its default context (FIPS, property queries) keeps exactly that.
#include "CertVaultNative.h"
#include <openssl/provider.h>
#include <pthread.h>

static OSSL_LIB_CTX *context = NULL;

static void make_context(void) {
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    if (ctx == NULL) return;
    // A fresh context reads no configuration file: only these two providers.
    if (OSSL_PROVIDER_load(ctx, "default") == NULL || OSSL_PROVIDER_load(ctx, "legacy") == NULL) {
        OSSL_LIB_CTX_free(ctx);
        return;
    }
    context = ctx;
}

OSSL_LIB_CTX *cv_libctx(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_context);
    return context;
}
