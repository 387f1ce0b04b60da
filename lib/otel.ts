/**
 * `cachette/otel`: a cache seen by OpenTelemetry. Needs the optional peer
 * `@opentelemetry/api`; nothing of it is loaded unless this entry point is.
 *
 * Spans: one per lookup outcome (`cachette hit`, `cachette miss`...), a child
 * of whatever span is active where the request was made. A hit sends nothing
 * to the network, so undici's own instrumentation shows nothing for it: this
 * span is how a hit appears in a trace.
 *
 * Metrics: the counters of `cache.stats()`, observed when the meter collects
 * (nothing is counted twice, nothing costs anything between collections).
 */

import { type Attributes, context, type MeterProvider, metrics, SpanKind, type TracerProvider, trace } from '@opentelemetry/api';
import type { HttpCache } from './cache.js';
import type { DecisionEvent } from './diagnostics.js';

export interface InstrumentOptions {
  /** Default: the global providers (`trace.getTracerProvider()`, `metrics.getMeterProvider()`). */
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
  /** A span per lookup outcome. Default: true. */
  spans?: boolean;
  /** The stats as metrics. Default: true. */
  metrics?: boolean;
  /** An attribute (`cachette.cache`) telling caches apart. Default: "default". */
  name?: string;
}

const SCOPE = 'cachette';

/** Starts reporting a cache's outcomes and stats to OpenTelemetry; returns a function that stops it. */
export function instrument(cache: HttpCache, options: InstrumentOptions = {}): () => void {
  const stops: Array<() => void> = [];
  const name = options.name ?? 'default';
  if (options.spans !== false) {
    const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
    stops.push(
      cache.observe((event: DecisionEvent) => {
        const attributes: Attributes = {
          'http.request.method': event.method,
          'url.full': event.url,
          'cachette.cache': name,
          'cachette.outcome': event.outcome,
          'cachette.reason': event.reason,
        };
        tracer.startSpan(`cachette ${event.outcome}`, { kind: SpanKind.INTERNAL, attributes }, context.active()).end();
      }),
    );
  }
  if (options.metrics !== false) {
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
    const base = { 'cachette.cache': name };
    const counter = (metric: string, description: string, unit = '{request}') => meter.createObservableCounter(metric, { description, unit });
    const hits = counter('cachette.hits', 'Lookups answered from storage without the origin');
    const misses = counter('cachette.misses', 'Lookups the origin answered in full');
    const revalidations = counter('cachette.revalidations', 'Stored responses validated with the origin, by result');
    const stale = counter('cachette.stale_served', 'Stale responses served');
    const collapsed = counter('cachette.collapsed', 'Requests answered by an identical one under way');
    const bypassed = counter('cachette.bypassed', 'Requests the cache took no part in, by reason');
    const stored = counter('cachette.stored', 'Responses written to storage', '{response}');
    const notStored = counter('cachette.not_stored', 'Responses not stored, by reason', '{response}');
    const errors = counter('cachette.storage_errors', 'Storage calls that failed or passed their deadline', '{call}');
    const trips = counter('cachette.breaker_trips', 'Times the storage circuit breaker opened', '{trip}');
    const served = counter('cachette.bytes_served', 'Body bytes served from storage', 'By');
    const ratio = meter.createObservableGauge('cachette.hit_ratio', { description: 'hits / (hits + misses + revalidations)', unit: '1' });
    const observables = [hits, misses, revalidations, stale, collapsed, bypassed, stored, notStored, errors, trips, served, ratio];
    const callback = (result: { observe: (observable: (typeof observables)[number], value: number, attributes?: Attributes) => void }) => {
      const now = cache.stats();
      result.observe(hits, now.hits, base);
      result.observe(misses, now.misses, base);
      result.observe(revalidations, now.revalidations.notModified, { ...base, 'cachette.result': 'not-modified' });
      result.observe(revalidations, now.revalidations.replaced, { ...base, 'cachette.result': 'replaced' });
      result.observe(revalidations, now.revalidations.failed, { ...base, 'cachette.result': 'failed' });
      result.observe(stale, now.staleServed, base);
      result.observe(collapsed, now.collapsed, base);
      for (const [reason, count] of Object.entries(now.bypassed)) result.observe(bypassed, count, { ...base, 'cachette.reason': reason });
      result.observe(stored, now.stored, base);
      for (const [reason, count] of Object.entries(now.notStored)) result.observe(notStored, count, { ...base, 'cachette.reason': reason });
      result.observe(errors, now.storageErrors, base);
      result.observe(trips, now.breakerTrips, base);
      result.observe(served, now.bytesServed, base);
      result.observe(ratio, now.hitRatio, base);
    };
    meter.addBatchObservableCallback(callback, observables);
    stops.push(() => meter.removeBatchObservableCallback(callback, observables));
  }
  return () => {
    for (const stop of stops.splice(0)) stop();
  };
}
