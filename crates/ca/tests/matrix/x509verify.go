// Root compatibility matrix (crates/ca/tests/matrix.rs): Go crypto/x509's verdict on a lantrust root and a chain.
//
// Usage:
//
//	x509verify --version               -> print the Go version
//	x509verify ROOT.pem                -> parse the root only
//	x509verify ROOT.pem CHAIN.pem HOST -> verify CHAIN (leaf first) under ROOT for HOST
//
// Prints one line: "LOADED", "OK", "LOAD-FAILED: <why>" (exit 3) or "REJECTED: <why>" (exit 1).
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"runtime"
	"strings"
)

func certs(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificate in %s", path)
	}
	return out, nil
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println("Go", strings.TrimPrefix(runtime.Version(), "go"), "crypto/x509")
		return
	}
	if len(os.Args) != 2 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: x509verify ROOT.pem [CHAIN.pem HOST]")
		os.Exit(2)
	}
	roots, err := certs(os.Args[1])
	if err != nil {
		fmt.Println("LOAD-FAILED:", err)
		os.Exit(3)
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	if len(os.Args) == 2 {
		fmt.Println("LOADED")
		return
	}
	chain, err := certs(os.Args[2])
	if err != nil {
		fmt.Println("REJECTED:", err)
		os.Exit(1)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{
		DNSName:       os.Args[3],
		Roots:         pool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		fmt.Println("REJECTED:", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
	fmt.Println("OK")
}
