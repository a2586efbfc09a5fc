/**
 * The benchmark's report: one row per scenario and target, and the table
 * printed at the end.
 *
 * @module
 */

/** One scenario's measured outcome. */
export interface Row {
  scenario: string;
  title: string;
  /** The engine, with `×N+redis` for a cluster. */
  target: string;
  members: number;
  deliveriesPerS: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * p99 of the senders' own lines only (see `LoadResult.echo`): the
   * latency a sender sees, where p99 counts every delivery.
   */
  echoP99Ms: number;
  /**
   * p99 of the lines sent after the run's first fifth (see
   * `LoadResult.steady`): the tail once both processes are warm; null
   * when no line was sent after it (the idle scenarios).
   */
  steadyP99Ms: number | null;
  /**
   * p50 and p99 of the deliveries to native (TLS, WebSocket) members and
   * to IRC members apart, when some joined through the IRC door (ci).
   */
  byDoor?: {
    native: { p50Ms: number; p99Ms: number };
    irc: { p50Ms: number; p99Ms: number };
  };
  maxMs: number;
  expected: number;
  received: number;
  lost: number;
  orderViolations: number;
  disconnected: number;
  serverCpuPct: number;
  loadCpuPct: number;
  /** Redis's CPU over the run (cluster scenarios), else 0. */
  redisCpuPct: number;
  serverPeakRssMb: number;
  /** Server RSS at the end minus RSS after the joins. */
  rssGrowthMb: number;
  joinsPerS: number;
  /** Server RSS growth over all joins, per member. */
  rssPerMemberKb: number;
  /** Server RSS growth over the second half of the joins, per member. */
  marginalKb: number;
  /**
   * Server RSS growth over the joins, per member, measured again after
   * `--settle` seconds idle (V8 has given the young generation, grown
   * during the joins, back by then); null when not measured.
   */
  settledKb: number | null;
  silentDropped: number;
  junkSentMb: number;
  /**
   * Median time of one join (e, h): while members join a hundred at a
   * time, and one at a time into the full room.
   */
  joinP50Ms: number;
  joinAloneP50Ms: number;
  /**
   * Server RSS growth from its start to the first half of the joins, the
   * history said before them included (h).
   */
  historyRssMb: number;
  ratioVsNcat?: number;
  note?: string;
}

/** The rows as an aligned text table, one line per row. */
export function table(rows: Row[]): string {
  const header = [
    "scn",
    "target",
    "N",
    "deliv/s",
    "p50 ms",
    "p99 ms",
    "echo p99",
    "steady p99",
    "max ms",
    "expected",
    "received",
    "lost",
    "order",
    "disc",
    "srv CPU",
    "load CPU",
    "peak MB",
    "growth MB",
    "joins/s",
    "KB/member",
    "2nd half",
    "settled",
    "join p50",
    "alone p50",
    "vs ncat",
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.target,
    String(r.members),
    // Idle scenarios send one message: a rate means nothing there.
    /^[egh]/.test(r.scenario) ? "" : r.deliveriesPerS.toLocaleString("en-US"),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.echoP99Ms.toFixed(2),
    r.steadyP99Ms?.toFixed(2) ?? "",
    r.maxMs.toFixed(2),
    String(r.expected),
    String(r.received),
    String(r.lost),
    String(r.orderViolations),
    String(r.disconnected),
    `${r.serverCpuPct}%`,
    `${r.loadCpuPct}%` + (r.redisCpuPct ? ` +${r.redisCpuPct}% redis` : ""),
    String(r.serverPeakRssMb),
    String(r.rssGrowthMb) +
    (r.scenario === "f" ? ` (${r.silentDropped} dropped)` : "") +
    (r.scenario === "g" ? ` (${r.junkSentMb} MB sent)` : "") +
    (r.scenario.startsWith("h") ? ` (${r.historyRssMb} MB at start)` : ""),
    r.scenario.startsWith("e") ? r.joinsPerS.toLocaleString("en-US") : "",
    r.scenario.startsWith("e") ? String(r.rssPerMemberKb) : "",
    r.scenario.startsWith("e") ? String(r.marginalKb) : "",
    r.settledKb === null ? "" : String(r.settledKb),
    /^[eh]/.test(r.scenario) ? r.joinP50Ms.toFixed(2) : "",
    /^[eh]/.test(r.scenario) ? r.joinAloneP50Ms.toFixed(2) : "",
    r.ratioVsNcat !== undefined
      ? `${r.ratioVsNcat.toFixed(1)}x`
      : r.byDoor
      ? `p50/p99 native ${doorLatency(r.byDoor.native)}, IRC ${
        doorLatency(r.byDoor.irc)
      }`
      : (r.note ?? ""),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((row) => row[i]!.length))
  );
  const format = (row: string[]) =>
    row.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
  return [format(header), ...body.map(format)].join("\n");
}

/** "p50/p99" of one door's deliveries, in milliseconds. */
function doorLatency(l: { p50Ms: number; p99Ms: number }): string {
  return `${l.p50Ms.toFixed(2)}/${l.p99Ms.toFixed(2)}`;
}
