// Prometheus metrics for the API process (GET /metrics).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { statementsRun } from '../sa/query-count.js';

export function createMetrics() {
  const registry = new Registry();
  let counted = 0;
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Histogram({
      name: 'certdesk_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    ocspResponses: new Counter({
      name: 'certdesk_ocsp_responses_total',
      help: 'OCSP responses by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    dbStatements: new Counter({
      name: 'certdesk_db_statements_total',
      help: 'SQL statements this process sent through the query builder (the OCSP status read is not among them)',
      registers: [registry],
      collect() {
        // the count lives in sa/ (no metrics there); a counter only goes up, so add what is new
        const now = statementsRun();
        this.inc(now - counted);
        counted = now;
      },
    }),
    crlsPublished: new Counter({
      name: 'certdesk_crls_published_total',
      help: 'CRLs signed by the scheduled refresher',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
