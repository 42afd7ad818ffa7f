// x509check verifies a certdesk leaf, its chain and the issuing CA's CRL with Go's crypto/x509 —
// the parser that refused certificates with OIDs under the 2.25 UUID arc. Standard library only.
//
//	go run x509check.go -root root.pem -chain chain.pem -leaf leaf.pem -crl issuing.crl
//
// Prints one "ok …" line per check and exits 0, or prints the failure and exits 1.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
)

func readCert(path string) *x509.Certificate {
	data, err := os.ReadFile(path)
	if err != nil {
		fail("%s: %v", path, err)
	}
	if b, _ := pem.Decode(data); b != nil {
		data = b.Bytes
	}
	c, err := x509.ParseCertificate(data)
	if err != nil {
		fail("ParseCertificate %s: %v", path, err)
	}
	return c
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "x509check: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	root := flag.String("root", "", "root CA certificate (PEM or DER)")
	chain := flag.String("chain", "", "issuing CA certificate (PEM or DER)")
	leaf := flag.String("leaf", "", "end-entity certificate (PEM or DER)")
	crl := flag.String("crl", "", "the issuing CA's CRL (DER)")
	flag.Parse()

	rootCert, issuing, leafCert := readCert(*root), readCert(*chain), readCert(*leaf)
	fmt.Printf("ok parsed leaf serialNumber=%q\n", leafCert.Subject.SerialNumber)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(rootCert)
	inter.AddCert(issuing)
	// The purpose the profiles assert: TLS client authentication.
	if _, err := leafCert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		fail("Verify (clientAuth): %v", err)
	}
	fmt.Println("ok verified chain for clientAuth")
	if _, err := leafCert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err == nil {
		fail("Verify (emailProtection) passed, but the profiles do not assert it")
	}
	fmt.Println("ok refused for emailProtection")

	if *crl != "" {
		data, err := os.ReadFile(*crl)
		if err != nil {
			fail("%s: %v", *crl, err)
		}
		list, err := x509.ParseRevocationList(data)
		if err != nil {
			fail("ParseRevocationList: %v", err)
		}
		if err := list.CheckSignatureFrom(issuing); err != nil {
			fail("CRL CheckSignatureFrom: %v", err)
		}
		fmt.Printf("ok CRL number %v signed by the issuing CA\n", list.Number)
	}
}
