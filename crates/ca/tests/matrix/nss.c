/* Root compatibility matrix (crates/ca/tests/matrix.rs): NSS's verdict on a leaf under a root.
 *
 * usage: nss --version
 *        nss DBDIR LEAF.pem HOST
 * DBDIR is an NSS database (sql:) into which `certutil -A -t C,,` imported the root, which is
 * the "load" step. Verifies LEAF for TLS server use with NSS's certificate verifier (the one
 * `certutil -V` uses, which enforces name constraints), then HOST with CERT_VerifyCertName.
 * Prints one line: "OK" or "REJECTED: <why>" (exit 1); "LOAD-FAILED: <why>" (exit 3) when the
 * database cannot be opened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nss.h>
#include <cert.h>
#include <certdb.h>
#include <prerror.h>
#include <secport.h>

static int rejected(const char *what) {
    PRErrorCode e = PR_GetError();
    const char *name = PORT_ErrorToName(e);
    printf("REJECTED: %s: %s (%s %d)\n", what, PORT_ErrorToString(e), name ? name : "error", (int)e);
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("NSS %s\n", NSS_GetVersion());
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: %s DBDIR LEAF.pem HOST\n", argv[0]);
        return 2;
    }
    if (NSS_Init(argv[1]) != SECSuccess) {
        printf("LOAD-FAILED: NSS_Init(%s): %s\n", argv[1], PORT_ErrorToString(PR_GetError()));
        return 3;
    }
    FILE *f = fopen(argv[2], "rb");
    if (f == NULL) return 2;
    static char pem[65536];
    size_t len = fread(pem, 1, sizeof pem, f);
    fclose(f);
    CERTCertificate *leaf = CERT_DecodeCertFromPackage(pem, (int)len);
    if (leaf == NULL) return rejected("the leaf does not parse");
    SECCertificateUsage usages = 0;
    if (CERT_VerifyCertificateNow(CERT_GetDefaultCertDB(), leaf, PR_TRUE,
                                  certificateUsageSSLServer, NULL, &usages) != SECSuccess)
        return rejected("chain");
    if (CERT_VerifyCertName(leaf, argv[3]) != SECSuccess) return rejected("host name");
    puts("OK");
    return 0;
}
