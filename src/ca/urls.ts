// The URLs written into certificates (CRL DP, AIA) and served by the API; one place for both.
export function caUrls(publicUrl: string, caId: string): { crl: string; caIssuers: string; ocsp: string } {
  return {
    crl: `${publicUrl}/pki/crl/${caId}.crl`,
    caIssuers: `${publicUrl}/pki/ca/${caId}.cer`,
    ocsp: `${publicUrl}/ocsp`,
  };
}
