// The storage backends a test file should run against: SQLite always, PostgreSQL when CI (or a
// developer) provides TEST_DATABASE_URL.
import { postgresAvailable } from './ca.js';

export const BACKENDS: { name: string; postgres: boolean }[] = [
  { name: 'sqlite', postgres: false },
  ...(postgresAvailable() ? [{ name: 'postgres', postgres: true }] : []),
];
