/* Root compatibility matrix (crates/ca/tests/matrix.rs): wolfSSL's verdict on a root and a leaf.
 *
 * usage: wolfssl --version                 -> print the library version
 *        wolfssl ROOT.pem                  -> load the root as a trust anchor only
 *        wolfssl ROOT.pem LEAF.pem HOST    -> verify LEAF under ROOT, then check HOST
 * Prints one line: "LOADED", "OK", "LOAD-FAILED: <why>" (exit 3) or "REJECTED: <why>" (exit 1). */
#include <stdio.h>
#include <string.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("wolfSSL %s\n", wolfSSL_lib_version());
        return 0;
    }
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s ROOT.pem [LEAF.pem HOST]\n", argv[0]);
        return 2;
    }
    wolfSSL_Init();
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
    if (cm == NULL) return 2;
    int ret = wolfSSL_CertManagerLoadCA(cm, argv[1], NULL);
    if (ret != WOLFSSL_SUCCESS) {
        printf("LOAD-FAILED: %s (%d)\n", wolfSSL_ERR_reason_error_string(ret), ret);
        return 3;
    }
    if (argc == 2) {
        puts("LOADED");
        return 0;
    }
    ret = wolfSSL_CertManagerVerify(cm, argv[2], WOLFSSL_FILETYPE_PEM);
    if (ret != WOLFSSL_SUCCESS) {
        printf("REJECTED: %s (%d)\n", wolfSSL_ERR_reason_error_string(ret), ret);
        return 1;
    }
    WOLFSSL_X509 *leaf = wolfSSL_X509_load_certificate_file(argv[2], WOLFSSL_FILETYPE_PEM);
    if (leaf == NULL) {
        puts("REJECTED: the leaf does not parse");
        return 1;
    }
    if (wolfSSL_X509_check_host(leaf, argv[3], strlen(argv[3]), 0, NULL) != WOLFSSL_SUCCESS) {
        printf("REJECTED: the certificate is not valid for %s\n", argv[3]);
        return 1;
    }
    puts("OK");
    return 0;
}
