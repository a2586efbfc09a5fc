/**
 * The benchmark's scenarios: what each one runs (members, senders, rate,
 * history, server flags, doors, servers on Redis), in one table that
 * `bench/bench.ts` walks.
 *
 * @module
 */

/** One scenario of `deno task bench`. */
export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly members: number;
  readonly senders: number;
  readonly inflight: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly liveness: boolean;
  /** Extra members that never read (f). */
  readonly silent: number;
  /** Bytes of one endless line member 0 sends (g). */
  readonly junkBytes: number;
  /** Messages said before the members join: their history (eh, h). */
  readonly history: number;
  /**
   * Extra server flags (cm, dm, hm: history in memory only; a0, c0: no
   * history, nothing stored).
   */
  readonly serverArgs: readonly string[];
  /** Members that join through the web door (w: all, wx: every other one). */
  readonly web: "none" | "half" | "all";
  /** Servers joined through Redis (0: one server, no Redis). */
  readonly cluster: number;
  /**
   * Rooms the members are spread over (member i in `#r{i % rooms}`, with
   * the `rooms` capability); 0: the one room, as before.
   */
  readonly rooms: number;
  /**
   * One member in every `irc` joins through the IRC door (ci, 10: members
   * 9, 19, ..., 99, of which member 9 is a sender); 0: none.
   */
  readonly irc: number;
}

/** What a scenario runs against: our server on one engine, or ncat. */
export type Target = "deno" | "node" | "ncat";

/** Every scenario of a run without `--cluster`; small ones with `quick`. */
export function scenarios(quick: boolean): Scenario[] {
  const run = quick ? 1000 : 5000;
  const base = {
    inflight: 0,
    rate: 0,
    durationMs: run,
    liveness: false,
    silent: 0,
    junkBytes: 0,
    history: 0,
    serverArgs: [],
    web: "none" as const,
    cluster: 0,
    rooms: 0,
    irc: 0,
  };
  const inMemory = ["--durability", "memory"];
  const noHistory = ["--history", "0"];
  const c = {
    ...base,
    id: "c",
    title: "N=100, 10 senders, 8 in flight",
    members: 100,
    senders: 10,
    inflight: 8,
  };
  const d = {
    ...base,
    id: "d",
    title: `N=${quick ? 200 : 1000}, 10 senders at 10/s`,
    members: quick ? 200 : 1000,
    senders: 10,
    rate: 10,
  };
  const e1 = {
    ...base,
    id: "e1",
    title: `idle N=${quick ? 200 : 1000}`,
    members: quick ? 200 : 1000,
    senders: 1,
    liveness: true,
  };
  const h = {
    ...base,
    id: "h",
    title: `N=10 after ${quick ? "1,000" : "10,000"} stored messages`,
    members: 10,
    senders: 1,
    liveness: true,
    history: quick ? 1000 : 10_000,
  };
  const a = {
    ...base,
    id: "a",
    title: "N=10, all send, 1 in flight",
    members: 10,
    senders: 10,
    inflight: 1,
  };
  return [
    a,
    { ...a, id: "a0", title: `${a.title}, no history`, serverArgs: noHistory },
    {
      ...base,
      id: "b",
      title: "N=10, all send, 8 in flight",
      members: 10,
      senders: 10,
      inflight: 8,
    },
    c,
    { ...c, id: "w", title: "c, every member over WebSocket", web: "all" },
    {
      ...c,
      id: "wx",
      title: "c, 50 TLS + 50 WebSocket members",
      web: "half",
    },
    {
      ...c,
      id: "ci",
      title: "c, 10 members (1 a sender) through the IRC door",
      irc: 10,
    },
    {
      ...c,
      id: "cm",
      title: `${c.title}, history in memory`,
      serverArgs: inMemory,
    },
    { ...c, id: "c0", title: `${c.title}, no history`, serverArgs: noHistory },
    {
      ...base,
      id: "f",
      title: "c + 1 member that never reads",
      members: 100,
      senders: 10,
      inflight: 8,
      silent: 1,
    },
    {
      ...base,
      id: "g",
      title: "one 16 MiB line without LF",
      members: 2,
      senders: 1,
      junkBytes: 16 * 1024 * 1024,
    },
    d,
    {
      ...d,
      id: "dm",
      title: `${d.title}, history in memory`,
      serverArgs: inMemory,
    },
    e1,
    { ...e1, id: "eh", title: `${e1.title}, 50 lines of history`, history: 50 },
    {
      ...base,
      id: "e2",
      title: `idle N=${quick ? 1000 : 10000}`,
      members: quick ? 1000 : 10000,
      senders: 1,
      liveness: true,
    },
    h,
    { ...h, id: "hm", title: `${h.title}, in memory`, serverArgs: inMemory },
    {
      ...c,
      id: "rooms",
      title: `N=${quick ? 200 : 1000} in ${
        quick ? 20 : 100
      } rooms of 10, all send, 8 in flight`,
      members: quick ? 200 : 1000,
      senders: quick ? 200 : 1000,
      rooms: quick ? 20 : 100,
      // Every member comes from 127.0.0.1: one guest address group.
      serverArgs: ["--room-creations", "100000", "--max-rooms", "2000"],
    },
    {
      ...e1,
      id: "rm",
      title: `idle N=${quick ? 200 : 1000}, each in a room of its own`,
      rooms: quick ? 200 : 1000,
      serverArgs: ["--room-creations", "100000", "--max-rooms", "2000"],
    },
  ];
}

/**
 * The `--cluster N` scenarios: c, and r (100,000 deliveries/s offered), each
 * on one server, on one server through Redis, and on N servers.
 */
export function clusterScenarios(quick: boolean, count: number): Scenario[] {
  const [c] = scenarios(quick).filter((s) => s.id === "c");
  const r = {
    ...c!,
    id: "r",
    title: "N=100, 10 senders at 100/s (100,000 deliveries/s offered)",
    inflight: 0,
    rate: 100,
  };
  return [c!, r].flatMap((s) => [
    s,
    {
      ...s,
      id: `${s.id}k1`,
      title: `${s.title}, 1 server on Redis`,
      cluster: 1,
    },
    {
      ...s,
      id: `${s.id}k${count}`,
      title: `${s.title}, ${count} servers on Redis`,
      cluster: count,
    },
  ]);
}
