/* Root compatibility matrix (crates/ca/tests/matrix.rs): Mbed TLS's verdict on a root and a chain.
 *
 * usage: mbedtls --version                 -> print the library version
 *        mbedtls ROOT.pem                  -> parse the root only
 *        mbedtls ROOT.pem CHAIN.pem HOST   -> verify CHAIN (leaf first) under ROOT for HOST
 * Prints one line: "LOADED", "OK", "LOAD-FAILED: <why>" (exit 3) or "REJECTED: <why>" (exit 1). */
#include <stdio.h>
#include <string.h>
#include <mbedtls/error.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

static int fail(int code, const char *what, int ret) {
    char buf[256];
    mbedtls_strerror(ret, buf, sizeof buf);
    printf("%s: %s (-0x%04x)\n", what, buf, (unsigned)-ret);
    return code;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        char version[32];
        mbedtls_version_get_string(version);
        printf("Mbed TLS %s\n", version);
        return 0;
    }
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s ROOT.pem [CHAIN.pem HOST]\n", argv[0]);
        return 2;
    }
    mbedtls_x509_crt root, chain;
    mbedtls_x509_crt_init(&root);
    mbedtls_x509_crt_init(&chain);
    int ret = mbedtls_x509_crt_parse_file(&root, argv[1]);
    if (ret != 0) return fail(3, "LOAD-FAILED", ret);
    if (argc == 2) {
        puts("LOADED");
        return 0;
    }
    ret = mbedtls_x509_crt_parse_file(&chain, argv[2]);
    if (ret != 0) return fail(1, "REJECTED: chain does not parse", ret);
    uint32_t flags = 0;
    ret = mbedtls_x509_crt_verify(&chain, &root, NULL, argv[3], &flags, NULL, NULL);
    if (ret != 0) {
        char info[512];
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        for (char *p = info; *p; p++) if (*p == '\n') *p = ' ';
        printf("REJECTED: %s\n", info);
        return 1;
    }
    puts("OK");
    return 0;
}
