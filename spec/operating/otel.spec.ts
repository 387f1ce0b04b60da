/**
 * cachette/otel with the OpenTelemetry SDK's in-memory exporters: a span per
 * lookup outcome (a hit is visible in a trace, as a child of the caller's
 * span), and the stats as metrics.
 */

import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { instrument } from '../../lib/otel.js';
import { fetchText, useOrigin } from '../support.js';

describe('cachette/otel', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;
  const contextManager = new AsyncLocalStorageContextManager();

  before(() => {
    context.setGlobalContextManager(contextManager.enable());
  });
  after(() => {
    context.disable();
  });

  beforeEach(() => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
  });

  it('a span per outcome: the miss, then the hit, each a child of the caller’s span', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const cache = env.cache();
    const stop = instrument(cache, { tracerProvider, metrics: false, name: 'api' });
    const tracer = tracerProvider.getTracer('app');
    await tracer.startActiveSpan('handler', async (parent) => {
      await fetchText(cache, url('/a'));
      await cache.settled();
      await fetchText(cache, url('/a'));
      parent.end();
    });
    stop();
    await fetchText(cache, url('/a'));
    const spans = exporter.getFinishedSpans();
    const ours = spans.filter((span) => span.name.startsWith('cachette '));
    expect(ours.map((span) => span.name)).to.deep.equal(['cachette miss', 'cachette hit']);
    const parent = spans.find((span) => span.name === 'handler');
    for (const span of ours) {
      expect(span.parentSpanContext?.spanId).to.equal(parent?.spanContext().spanId);
      expect(span.attributes).to.include({ 'http.request.method': 'GET', 'url.full': url('/a'), 'cachette.cache': 'api' });
    }
    expect(ours[1]?.attributes['cachette.reason']).to.equal('fresh');
  });

  it('the stats as metrics, read when the meter collects', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const cache = env.cache();
    instrument(cache, { meterProvider, spans: false });
    await fetchText(cache, url('/a'));
    await cache.settled();
    await fetchText(cache, url('/a'));
    await fetchText(cache, url('/a'), { method: 'POST', body: 'x' });
    await reader.forceFlush();
    const metrics = new Map<string, Array<{ value: unknown; attributes: Record<string, unknown> }>>();
    for (const resource of exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) {
        for (const metric of scope.metrics) {
          metrics.set(
            metric.descriptor.name,
            metric.dataPoints.map((point) => ({ value: point.value, attributes: point.attributes })),
          );
        }
      }
    }
    expect(metrics.get('cachette.hits')?.[0]?.value).to.equal(1);
    expect(metrics.get('cachette.misses')?.[0]?.value).to.equal(1);
    expect(metrics.get('cachette.stored')?.[0]?.value).to.equal(1);
    expect(metrics.get('cachette.hit_ratio')?.[0]?.value).to.equal(0.5);
    expect(metrics.get('cachette.bypassed')).to.deep.equal([{ value: 1, attributes: { 'cachette.cache': 'default', 'cachette.reason': 'method' } }]);
    await meterProvider.shutdown();
  });
});
