import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Each label's known values: a counter starts every combination of them at 0, so that a
 * rate is defined before the first event. An empty list is a label whose values come as
 * they come (a route, a status).
 */
export type LabelValues<L extends string> = { readonly [K in L]: readonly string[] };

/**
 * A service's Prometheus metrics: a registry of its own (not prom-client's global one, so
 * that several services in one test process keep separate counts), with Node's process
 * metrics. Subclasses declare their metrics with the methods below.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  protected counter<L extends string = never>(
    name: string,
    help: string,
    labels: LabelValues<L> = {} as LabelValues<L>,
  ): Counter<L> {
    const counter = new Counter<L>({
      name,
      help,
      labelNames: keys(labels),
      registers: [this.registry],
    });
    for (const combination of combinations(labels)) counter.inc(combination, 0);
    return counter;
  }

  protected histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labels: LabelValues<L> = {} as LabelValues<L>,
  ): Histogram<L> {
    return new Histogram<L>({
      name,
      help,
      buckets,
      labelNames: keys(labels),
      registers: [this.registry],
    });
  }

  protected gauge<L extends string = never>(
    name: string,
    help: string,
    labels: LabelValues<L> = {} as LabelValues<L>,
  ): Gauge<L> {
    return new Gauge<L>({ name, help, labelNames: keys(labels), registers: [this.registry] });
  }
}

function keys<L extends string>(labels: LabelValues<L>): L[] {
  return Object.keys(labels) as L[];
}

/** Every combination of the labels' known values; none if a label has no known values. */
function combinations<L extends string>(labels: LabelValues<L>): Partial<Record<L, string>>[] {
  let result: Partial<Record<L, string>>[] = [{}];
  for (const label of keys(labels)) {
    result = result.flatMap((partial) =>
      labels[label].map((value) => ({ ...partial, [label]: value })),
    );
  }
  return keys(labels).length === 0 ? [] : result;
}
