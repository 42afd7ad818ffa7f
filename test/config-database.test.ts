// The settings for many instances on one database: DATABASE_READ_URL must be a PostgreSQL URL next to
// a PostgreSQL DATABASE_URL, and JOB_INTERVAL_SECONDS a whole number of seconds in range; each
// refusal names the variable.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config.js';

const refused = (env: NodeJS.ProcessEnv, re: RegExp) =>
  assert.throws(
    () => loadConfig(env),
    (e: unknown) => e instanceof ConfigError && re.test(e.message),
  );

describe('configuration for several instances', () => {
  test('DATABASE_READ_URL: a postgres:// replica of a PostgreSQL DATABASE_URL', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://a@db1/cd', DATABASE_READ_URL: 'postgres://a@db2/cd' });
    assert.equal(c.databaseReadUrl, 'postgres://a@db2/cd');
    assert.equal(loadConfig({}).databaseReadUrl, undefined);
    refused(
      { DATABASE_URL: 'postgres://a@db1/cd', DATABASE_READ_URL: 'mysql://db2/cd' },
      /^DATABASE_READ_URL must start with postgres:\/\//,
    );
    refused({ DATABASE_READ_URL: 'postgres://a@db2/cd' }, /^DATABASE_READ_URL .*set DATABASE_URL/);
  });

  test('JOB_INTERVAL_SECONDS: 60 by default, 1 to 3600', () => {
    assert.equal(loadConfig({}).jobIntervalSeconds, 60);
    assert.equal(loadConfig({ JOB_INTERVAL_SECONDS: '5' }).jobIntervalSeconds, 5);
    refused({ JOB_INTERVAL_SECONDS: '0' }, /^JOB_INTERVAL_SECONDS must be between 1 and 3600/);
    refused({ JOB_INTERVAL_SECONDS: '1m' }, /^JOB_INTERVAL_SECONDS must be a whole number/);
  });
});
