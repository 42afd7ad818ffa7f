// The URLs written into certificates (CRL DP, AIA) and served by the API; one place for both.
export function caUrls(pkiUrl: string, caId: string): { crl: string; caIssuers: string; ocsp: string } {
  return {
    // the CA's full CRL: the DP of CA certificates and of certificates from before CRL shards
    crl: `${pkiUrl}/pki/crl/${caId}.crl`,
    caIssuers: `${pkiUrl}/pki/ca/${caId}.cer`,
    ocsp: `${pkiUrl}/ocsp`,
  };
}

/** The CRL DP of a certificate in `shard`, and the issuingDistributionPoint of that shard's CRL. */
export const shardCrlUrl = (pkiUrl: string, caId: string, shard: number): string => `${pkiUrl}/pki/crl/${caId}/${shard}.crl`;

/** The PKI_URL a shard CRL URL of `caId` was made under (shardCrlUrl's inverse); undefined for any other URL. */
export function pkiUrlOfShardCrl(url: string, caId: string): string | undefined {
  const m = /^(.+)\/pki\/crl\/([^/]+)\/\d+\.crl$/.exec(url);
  return m && m[2] === caId ? m[1] : undefined;
}
