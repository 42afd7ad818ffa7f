// Supporting documents holders upload. Rows are written once and read back by id; the content is
// returned only by getDocumentContent, so listings never carry the bytes.
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { DocumentTable } from './schema.js';

export type DocumentRecord = Omit<Selectable<DocumentTable>, 'content'>;

const COLUMNS = [
  'id',
  'holder_id',
  'purpose',
  'file_name',
  'media_type',
  'size_bytes',
  'sha256',
  'uploaded_at',
  'uploaded_by',
] as const;

export async function insertDocument(db: Executor, row: Selectable<DocumentTable>): Promise<void> {
  await db.insertInto('documents').values(row).execute();
}

export async function getDocument(db: Executor, id: string): Promise<DocumentRecord | undefined> {
  return db.selectFrom('documents').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

export async function getDocumentsByIds(db: Executor, ids: string[]): Promise<DocumentRecord[]> {
  if (!ids.length) return [];
  return db.selectFrom('documents').select(COLUMNS).where('id', 'in', ids).execute();
}

export async function getDocumentContent(db: Executor, id: string): Promise<Selectable<DocumentTable> | undefined> {
  return db.selectFrom('documents').selectAll().where('id', '=', id).executeTakeFirst();
}
