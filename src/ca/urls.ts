// The URLs written into certificates (CRL DP, AIA) and served by the API; one place for both.
export function caUrls(pkiUrl: string, caId: string): { crl: string; caIssuers: string; ocsp: string } {
  return {
    crl: `${pkiUrl}/pki/crl/${caId}.crl`,
    caIssuers: `${pkiUrl}/pki/ca/${caId}.cer`,
    ocsp: `${pkiUrl}/ocsp`,
  };
}
