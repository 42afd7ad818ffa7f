// The storage backends a test file runs against: SQLite always, PostgreSQL when CI (or a developer)
// provides TEST_DATABASE_URL — without it the PostgreSQL suites show as skipped, and fail under CI=true.
import { requireTool } from './requirements.js';

export const BACKENDS: { name: string; postgres: boolean; skip: string | false }[] = [
  { name: 'sqlite', postgres: false, skip: false },
  { name: 'postgres', postgres: true, skip: requireTool('postgres') },
];
