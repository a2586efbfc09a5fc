/**
 * Metrics in the Prometheus text exposition format (0.0.4): counters and
 * gauges whose values are read when scraped (the owners of each decision
 * keep plain numbers; nothing is copied or hashed on the hot path), and
 * histograms with fixed buckets. Every family's label sets are fixed when
 * it is registered, so nothing a client sends (an alias, a room name) can
 * add a series: memory and scrape size stay bounded. Rendering is pure.
 *
 * @module
 */

/** The label values of one series, by label name. */
export type Labels = Readonly<Record<string, string>>;

/** Where a counter's or gauge's value is read, with its labels. */
export type Series = readonly [Labels, () => number];

/** A histogram with fixed upper bounds (`le`); `+Inf` is implied. */
export class Histogram {
  /** Upper bounds, increasing. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last is `+Inf`'s. */
  readonly counts: number[];
  count = 0;
  sum = 0;

  /** A histogram with upper bounds `bounds` (finite, increasing). */
  constructor(bounds: readonly number[]) {
    for (let i = 0; i < bounds.length; i++) {
      if (
        !Number.isFinite(bounds[i]) ||
        bounds[i]! <= (bounds[i - 1] ?? -Infinity)
      ) {
        throw new RangeError(
          `Cannot make a histogram: bounds must be finite and increasing, not ${
            bounds.join(",")
          }`,
        );
      }
    }
    this.bounds = bounds;
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  /** Counts one observation (a few comparisons, no allocation). */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
  }

  /** Runs `work` and observes how long it took, in seconds (thrown too). */
  time<T>(work: () => T): T {
    const start = performance.now();
    try {
      return work();
    } finally {
      this.observe((performance.now() - start) / 1000);
    }
  }
}

/** One metric family as registered. */
type Family =
  | {
    readonly type: "counter" | "gauge";
    readonly name: string;
    readonly help: string;
    readonly series: readonly Series[];
  }
  | {
    readonly type: "histogram";
    readonly name: string;
    readonly help: string;
    readonly series: readonly (readonly [Labels, Histogram])[];
  };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Metric families, in the order registered, and their rendering.
 *
 * @example A counter read from a plain field, rendered
 * ```ts
 * import assert from "node:assert/strict";
 * import { Registry } from "./registry.ts";
 *
 * const counts = { tls: 2, web: 0 };
 * const registry = new Registry();
 * registry.counter("chat_lines_total", "Lines said.", [
 *   [{ door: "tls" }, () => counts.tls],
 *   [{ door: "web" }, () => counts.web],
 * ]);
 * counts.web++;
 * assert.equal(
 *   registry.render(),
 *   '# HELP chat_lines_total Lines said.\n# TYPE chat_lines_total counter\n' +
 *     'chat_lines_total{door="tls"} 2\nchat_lines_total{door="web"} 1\n',
 * );
 * ```
 */
export class Registry {
  #families: Family[] = [];
  #names = new Set<string>();

  /** Registers a counter (its name ends in `_total`): one value or series. */
  counter(
    name: string,
    help: string,
    series: (() => number) | readonly Series[],
  ): void {
    if (!name.endsWith("_total")) {
      throw new TypeError(
        `Cannot register counter "${name}": its name must end in _total`,
      );
    }
    this.#add({ type: "counter", name, help, series: seriesOf(series) });
  }

  /** Registers a gauge, read when scraped: one value or series. */
  gauge(
    name: string,
    help: string,
    series: (() => number) | readonly Series[],
  ): void {
    this.#add({ type: "gauge", name, help, series: seriesOf(series) });
  }

  /** Registers a histogram, or one per label set. */
  histogram(
    name: string,
    help: string,
    series: Histogram | readonly (readonly [Labels, Histogram])[],
  ): void {
    const all = series instanceof Histogram ? [[{}, series] as const] : series;
    this.#add({ type: "histogram", name, help, series: all });
  }

  #add(family: Family): void {
    const { name } = family;
    if (!METRIC_NAME.test(name) || this.#names.has(name)) {
      throw new TypeError(`Cannot register metric "${name}": invalid or taken`);
    }
    checkLabels(name, family.series.map(([labels]) => labels), family.type);
    this.#names.add(name);
    this.#families.push(family);
  }

  /** Every family in the text exposition format, values read now. */
  render(): string {
    let text = "";
    for (const family of this.#families) {
      const { name } = family;
      text += `# HELP ${name} ${
        escapeHelp(family.help)
      }\n# TYPE ${name} ${family.type}\n`;
      if (family.type !== "histogram") {
        for (const [labels, read] of family.series) {
          text += `${name}${formatLabels(labels)} ${formatValue(read())}\n`;
        }
        continue;
      }
      for (const [labels, histogram] of family.series) {
        text += renderHistogram(name, labels, histogram);
      }
    }
    return text;
  }
}

/** One unlabelled value, or the series given. */
function seriesOf(
  series: (() => number) | readonly Series[],
): readonly Series[] {
  return typeof series === "function" ? [[{}, series]] : series;
}

/**
 * Checks a family's label sets: valid names, the same names in each, no
 * set twice, none reserved (`__*`, and `le` for a histogram).
 */
function checkLabels(
  name: string,
  sets: readonly Labels[],
  type: string,
): void {
  const refuse = (why: string) => {
    throw new TypeError(`Cannot register metric "${name}": ${why}`);
  };
  if (sets.length === 0) refuse("it has no series");
  const names = Object.keys(sets[0]!).sort().join(",");
  const seen = new Set<string>();
  for (const labels of sets) {
    const keys = Object.keys(labels).sort();
    if (keys.join(",") !== names) refuse("its series have different labels");
    for (const key of keys) {
      if (!LABEL_NAME.test(key) || key.startsWith("__")) {
        refuse(`label "${key}" is not a valid name`);
      }
      if (key === "le" && type === "histogram") refuse('"le" is reserved');
    }
    const id = JSON.stringify(keys.map((key) => labels[key]));
    if (seen.has(id)) refuse(`a label set is given twice: ${id}`);
    seen.add(id);
  }
}

/** A histogram's `_bucket` (cumulative), `_sum` and `_count` lines. */
function renderHistogram(
  name: string,
  labels: Labels,
  histogram: Histogram,
): string {
  let text = "";
  let cumulative = 0;
  const { bounds, counts } = histogram;
  for (let i = 0; i <= bounds.length; i++) {
    cumulative += counts[i]!;
    const le = i < bounds.length ? formatValue(bounds[i]!) : "+Inf";
    text += `${name}_bucket${formatLabels({ ...labels, le })} ${cumulative}\n`;
  }
  const tail = formatLabels(labels);
  text += `${name}_sum${tail} ${formatValue(histogram.sum)}\n`;
  text += `${name}_count${tail} ${histogram.count}\n`;
  return text;
}

/** `{a="x",b="y"}`, values escaped; nothing when there is no label. */
export function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return "";
  return `{${
    pairs.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(",")
  }}`;
}

/** A label value with `\`, `"` and line feeds escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** A `# HELP` text with `\` and line feeds escaped. */
export function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

/** A sample value as the format writes it (`+Inf`, `-Inf`, `NaN`). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
