// Supporting documents (营业执照 / 变更通知书 scans, 公安备案 filings …): the one place uploads are
// checked and kept. The type is read from the content, never from the file name; each is at most
// 5 MB and kept with its SHA-256 so a reviewer's decision names exactly the bytes reviewed.
import { createHash, randomBytes } from 'node:crypto';
import { insertDocument, type DocumentRecord } from '../sa/documents.js';
import type { Executor } from '../sa/database.js';
import type { DocumentMediaType } from '../sa/schema.js';
import { RaError } from './errors.js';

export const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;

export interface DocumentUpload {
  /** the holder's file name, shown to staff; not trusted for the type */
  fileName: string;
  content: Buffer;
}

/** The media type the content really is, by its signature bytes; undefined for anything else. */
export function sniffMediaType(content: Buffer): DocumentMediaType | undefined {
  if (content.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  if (content.length >= 3 && content[0] === 0xff && content[1] === 0xd8 && content[2] === 0xff) return 'image/jpeg';
  if (content.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  return undefined;
}

/** Checks one upload; `field` names it in the error (e.g. 'documents[0]'). */
export function checkDocument(upload: DocumentUpload, field: string): DocumentMediaType {
  if (!upload.content.length) throw new RaError('invalid', `${field}: the file is empty`, field);
  if (upload.content.length > MAX_DOCUMENT_BYTES)
    throw new RaError(
      'invalid',
      `${field}: ${upload.fileName} is ${(upload.content.length / 1024 / 1024).toFixed(1)} MB; at most 5 MB is accepted`,
      field,
    );
  const type = sniffMediaType(upload.content);
  if (!type)
    throw new RaError('invalid', `${field}: ${upload.fileName} is not a PDF, JPG or PNG file (checked by its content)`, field);
  const name = upload.fileName.trim();
  if (!name || name.length > 200 || /[\u0000-\u001f/\\]/.test(name))
    throw new RaError('invalid', `${field}: the file name must be 1–200 characters without / \\ or control characters`, field);
  return type;
}

/**
 * Decodes a JSON upload `{ fileName, contentBase64 }` (how the portal and console send files) into a
 * DocumentUpload, with an error naming `field` when it is not that shape.
 */
export function decodeUpload(value: unknown, field: string): DocumentUpload {
  const v = value as { fileName?: unknown; contentBase64?: unknown } | null;
  if (!v || typeof v !== 'object' || typeof v.fileName !== 'string' || typeof v.contentBase64 !== 'string')
    throw new RaError('invalid', `${field}: expected { fileName, contentBase64 }`, field);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v.contentBase64))
    throw new RaError('invalid', `${field}: contentBase64 is not base64`, field);
  return { fileName: v.fileName, content: Buffer.from(v.contentBase64, 'base64') };
}

/** Checks and stores an upload inside the caller's transaction (with the request it supports). */
export async function storeDocument(
  tx: Executor,
  input: { holderId: number | null; purpose: string; upload: DocumentUpload; field: string; actor: string },
): Promise<DocumentRecord> {
  const mediaType = checkDocument(input.upload, input.field);
  const row = {
    id: `DOC${randomBytes(10).toString('hex')}`,
    holder_id: input.holderId,
    purpose: input.purpose,
    file_name: input.upload.fileName.trim(),
    media_type: mediaType,
    size_bytes: input.upload.content.length,
    sha256: createHash('sha256').update(input.upload.content).digest('hex'),
    content: input.upload.content,
    uploaded_at: Date.now(),
    uploaded_by: input.actor,
  };
  await insertDocument(tx, row);
  const { content: _content, ...record } = row;
  return record;
}
