// Spans, through OpenTelemetry's API: a no-op until src/telemetry.ts registers a provider, and
// skipped altogether while none is (`tracing.on` false), so that tracing off costs nothing.
// What goes into a span is chosen where it is made: sources, outcomes, ids and counts, never a
// secret, a key, a token, a payload or anyone's email.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Link, type Span } from '@opentelemetry/api';

export { SpanKind };

export const tracing = {
  /** Set by telemetry.ts once a provider is registered. */
  on: false,
  /** This process's instance, put on spans that say which instance did the work. */
  instance: '',
};

const tracer = () => trace.getTracer('directory-sync');

/** Runs `work` in a span (the active one inside it), ended when it settles; without tracing, just runs it. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; links?: Link[]; /** A trace of its own (linked, not a child). */ root?: boolean },
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!tracing.on) return work(undefined);
  const { root, ...spanOptions } = options;
  return tracer().startActiveSpan(name, spanOptions, root ? ROOT_CONTEXT : context.active(), async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active span as a W3C traceparent (to carry across the feed), or undefined. */
export function traceParent(): string | undefined {
  if (!tracing.on) return undefined;
  const span = trace.getSpan(context.active());
  const c = span?.spanContext();
  if (!c || !trace.isSpanContextValid(c)) return undefined;
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 1).toString(16).padStart(2, '0')}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Links to the spans these traceparents name (each once; malformed ones skipped). */
export function linksTo(parents: Iterable<string | null | undefined>): Link[] {
  const out = new Map<string, Link>();
  for (const parent of parents) {
    const m = parent ? TRACEPARENT.exec(parent) : null;
    if (!m || out.has(parent!)) continue;
    out.set(parent!, { context: { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true } });
  }
  return [...out.values()];
}

/** Notes an event on the active span (a SQL statement's text, say); nothing without tracing. */
export function spanEvent(name: string, attributes: Attributes): void {
  if (!tracing.on) return;
  trace.getActiveSpan()?.addEvent(name, attributes);
}

/** inSpan for synchronous work (a signature's check, say). */
export function inSpanSync<T>(name: string, attributes: Attributes, work: () => T): T {
  if (!tracing.on) return work();
  return tracer().startActiveSpan(name, { attributes }, (span) => {
    try {
      return work();
    } finally {
      span.end();
    }
  });
}

/** Sets attributes on the active span; nothing without tracing. */
export function spanAttributes(attributes: Attributes): void {
  if (!tracing.on) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}
