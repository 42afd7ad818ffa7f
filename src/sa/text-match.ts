// Text search in SQL, one way on both dialects: SQLite's LIKE has no default escape character and
// ignores ASCII case, PostgreSQL's escapes with a backslash and minds case. Every "contains" or
// "starts with" filter goes through here, so a `%` or `_` a user types matches itself everywhere.
import { sql, type Expression, type SqlBool } from 'kysely';

/** `s` with LIKE's wildcards (and the escape itself) escaped by a backslash. */
export function escapeLike(s: string): string {
  return s.replace(/[%_\\]/g, (c) => '\\' + c);
}

/** Case-insensitive LIKE with backslash escapes, the same on SQLite (no default escape) and PostgreSQL. */
export function likeText(column: string, pattern: string): Expression<SqlBool> {
  return sql<SqlBool>`lower(${sql.ref(column)}) like lower(${pattern}) escape '\\'`;
}

/** `column` contains `text` (its wildcards taken literally, case ignored). */
export const containsText = (column: string, text: string): Expression<SqlBool> => likeText(column, `%${escapeLike(text)}%`);
