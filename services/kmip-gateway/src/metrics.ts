import { prom } from '@keywarden/common';
import type { Registry } from 'prom-client';

export interface GatewayMetrics {
  handshakes: prom.Counter<'result'>;
  handshakeSeconds: prom.Histogram;
  connections: prom.Gauge;
  operations: prom.Counter<'operation' | 'status' | 'reason'>;
  operationSeconds: prom.Histogram<'operation'>;
  closed: prom.Counter<'cause'>;
  refused: prom.Counter<'reason'>;
  sockets: prom.Gauge;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    handshakes: new prom.Counter({ name: 'kmip_gateway_tls_handshakes_total', help: 'TLS handshakes by result', labelNames: ['result'], registers: [registry] }),
    handshakeSeconds: new prom.Histogram({ name: 'kmip_gateway_tls_handshake_seconds', help: 'TCP accept to TLS established', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    connections: new prom.Gauge({ name: 'kmip_gateway_connections', help: 'Open client connections', registers: [registry] }),
    operations: new prom.Counter({ name: 'kmip_gateway_operations_total', help: 'KMIP batch items by operation and result', labelNames: ['operation', 'status', 'reason'], registers: [registry] }),
    operationSeconds: new prom.Histogram({ name: 'kmip_gateway_operation_seconds', help: 'Batch item latency by operation', labelNames: ['operation'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] }),
    closed: new prom.Counter({ name: 'kmip_gateway_connections_closed_total', help: 'Connections closed by cause', labelNames: ['cause'], registers: [registry] }),
    refused: new prom.Counter({ name: 'kmip_gateway_connections_refused_total', help: 'TCP connections closed at accept: per-source or total limit reached', labelNames: ['reason'], registers: [registry] }),
    sockets: new prom.Gauge({ name: 'kmip_gateway_sockets', help: 'Accepted TCP connections, TLS handshake done or not', registers: [registry] }),
  };
}
