// The public seal status answer (GET /api/seals/{esID}), for relying signature software.
export interface SealStatusView {
  esId: string;
  status: 'valid' | 'revoked' | 'expired';
  name: string;
  /** the catalogue's seal type code */
  type: string;
  validStart: string;
  validEnd: string;
  revokedAt: string | null;
  revocationReason: string | null;
  /** 1 for the seal as first made; +1 each time it is re-made for a renewed certificate */
  generation: number;
  maker: { id: string; subject: string; serial: string } | null;
  /** the holder's signing certificate(s) in the seal's certList */
  certificateSerials: string[];
}
