// Prometheus metrics for the API process (GET /metrics).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
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
    crlsPublished: new Counter({
      name: 'certdesk_crls_published_total',
      help: 'CRLs signed by the scheduled refresher',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
