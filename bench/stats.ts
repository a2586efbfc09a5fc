/**
 * Measurement helpers for the benchmark: a fixed-memory latency histogram and
 * readers for a process's CPU time and memory from `/proc` (Linux).
 *
 * @module
 */

/**
 * Latency histogram in microseconds: 1 µs buckets up to 10 ms, 100 µs
 * buckets up to 10 s. Adding is O(1); percentiles are bucket-accurate.
 */
export class LatencyHistogram {
  #fine = new Float64Array(10_000);
  #coarse = new Float64Array(100_000);
  #count = 0;
  #max = 0;

  /** Records one latency in microseconds. */
  add(micros: number): void {
    const value = Math.max(0, micros);
    if (value < 10_000) this.#fine[Math.floor(value)]!++;
    else this.#coarse[Math.min(99_999, Math.floor(value / 100))]!++;
    this.#count++;
    if (value > this.#max) this.#max = value;
  }

  /** Adds every sample of another histogram. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.#fine.length; i++) {
      this.#fine[i]! += other.#fine[i]!;
    }
    for (let i = 0; i < this.#coarse.length; i++) {
      this.#coarse[i]! += other.#coarse[i]!;
    }
    this.#count += other.#count;
    this.#max = Math.max(this.#max, other.#max);
  }

  /** The latency (µs) below which a fraction `q` of samples fall. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = q * this.#count;
    let seen = 0;
    for (let i = 0; i < this.#fine.length; i++) {
      seen += this.#fine[i]!;
      if (seen >= rank) return i + 1;
    }
    for (let i = 0; i < this.#coarse.length; i++) {
      seen += this.#coarse[i]!;
      if (seen >= rank) return (i + 1) * 100;
    }
    return this.#max;
  }

  /** p50, p99 and max in milliseconds, and the sample count. */
  summary(): { count: number; p50Ms: number; p99Ms: number; maxMs: number } {
    return {
      count: this.#count,
      p50Ms: this.quantile(0.5) / 1000,
      p99Ms: this.quantile(0.99) / 1000,
      maxMs: this.#max / 1000,
    };
  }
}

/**
 * Reads files under /proc through `cat`: Deno grants /proc only to
 * `--allow-all`, and the benchmark keeps narrow permissions.
 */
export function readProc(...paths: string[]): string[] {
  return paths.map((path) => {
    const { success, stdout } = new Deno.Command("cat", { args: [path] })
      .outputSync();
    if (!success) throw new Error(`Cannot read ${path}`);
    return new TextDecoder().decode(stdout);
  });
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const [stat] = readProc(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat!.slice(stat!.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Current and peak resident memory of a process in bytes. */
export function memory(pid: number): { rss: number; peak: number } {
  const [status] = readProc(`/proc/${pid}/status`);
  const kb = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status!)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}
