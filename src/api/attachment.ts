// Every download the portal and the staff console send (certificates, seals, invoices, uploaded
// documents, the audit export) goes out the same way: as an attachment under a name in any script,
// never cached, never sniffed. A holder's 营业执照.pdf keeps its name: RFC 6266 filename* in UTF-8
// (RFC 8187), with an ASCII stand-in in filename for clients that do not read filename*.
import type { FastifyReply } from 'fastify';

/** RFC 8187 ext-value: UTF-8, percent-encoded except attr-char (encodeURIComponent leaves '()* as they are). */
const extValue = (s: string): string =>
  encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Content-Disposition of a download named `fileName`. */
export function attachmentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\w.-]/g, '_');
  return ascii === fileName
    ? `attachment; filename="${fileName}"`
    : `attachment; filename="${ascii}"; filename*=UTF-8''${extValue(fileName)}`;
}

/** Sends `body` as the download `fileName` of media type `type`. */
export function sendAttachment(reply: FastifyReply, type: string, fileName: string, body: Buffer | string): FastifyReply {
  return attachmentHeaders(reply, type, fileName).send(body);
}

/** The headers of a download, for a body sent later (a stream). */
export function attachmentHeaders(reply: FastifyReply, type: string, fileName: string): FastifyReply {
  return reply
    .type(type)
    .header('content-disposition', attachmentDisposition(fileName))
    .header('cache-control', 'private, no-store')
    .header('x-content-type-options', 'nosniff');
}
