/**
 * The named metrics of tlschat, in one place: {@linkcode ServerMetrics}
 * holds the plain numbers the owners of each decision increment (the
 * session, the fan-out, the gate, the moderator's announcement, the
 * history's commit, the Redis link), and {@linkcode serverRegistry} names
 * them for Prometheus together with the gauges read at scrape time
 * (members online, rooms, memory, the backend's probe). No label holds a
 * user's alias, an address or a room's name: every label takes a fixed,
 * small set of values, so the series count never grows with use.
 *
 * @module
 */

import { PROTOCOL } from "../../protocol.ts";
import { Histogram, Registry, type Series } from "./registry.ts";
import { registerRedis, registerStorage } from "./backend_metrics.ts";

/** The label of each door (`ConnectionInfo.door`): `tls`, `web`, `irc`. */
export const DOOR_LABELS = {
  tls: "tls",
  websocket: "web",
  irc: "irc",
} as const;

/** A door, as `ConnectionInfo.door` names it. */
export type Door = keyof typeof DOOR_LABELS;

/** What is counted per door. */
export interface DoorCounts {
  /** Connections served by a session now. */
  connections: number;
  /** Messages (`MSG`) said by members who came in by this door. */
  messages: number;
  /** Actions (`/me`, `ME`) likewise. */
  actions: number;
}

/** Why a login failed (label `reason`), as the gate decides it. */
export const LOGIN_FAILURE_REASONS = [
  "room-password",
  "account-password",
  "room-key",
  "throttled",
  "busy",
] as const;

/** A reason of {@linkcode LOGIN_FAILURE_REASONS}. */
export type LoginFailure = (typeof LOGIN_FAILURE_REASONS)[number];

/** Connections refused by the admission, by `BYE` reason. */
export type Refusals = Record<"server-full" | "ip-limit" | "banned", number>;

/** Failed logins by reason: what the gate increments. */
export type LoginFailures = Record<LoginFailure, number>;

/** Failed logins by reason, all zero. */
export function noLoginFailures(): LoginFailures {
  return Object.fromEntries(
    LOGIN_FAILURE_REASONS.map((reason) => [reason, 0]),
  ) as LoginFailures;
}

/**
 * Moderation actions (label `kind`): the `MOD` actions and `topic`; any
 * other action is counted as `other`.
 */
export const MODERATION_KINDS = [
  "topic",
  "kick",
  "ban",
  "unban",
  "mute",
  "unmute",
  "op",
  "deop",
  "key",
  "invite-only",
  "invite",
  "register",
  "other",
] as const;

/** Upper bounds of the duration histograms, in seconds (0.1 ms to 5 s). */
export const SECONDS_BUCKETS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

/**
 * The counters of one server: plain numbers and histograms, incremented
 * where each decision is made and read only when scraped. One object per
 * server, injected; a new one is the default (never a no-op).
 */
export class ServerMetrics {
  /** Per door. */
  readonly doors: Readonly<Record<Door, DoorCounts>> = {
    tls: { connections: 0, messages: 0, actions: 0 },
    websocket: { connections: 0, messages: 0, actions: 0 },
    irc: { connections: 0, messages: 0, actions: 0 },
  };
  /** Lines the fan-out handed to members' queues (none to a member away). */
  deliveries = 0;
  /** Members dropped because their outbound queue was full or stalled. */
  slowDrops = 0;
  /** Lines held back by flood control (over the rate). */
  floodDelayed = 0;
  /** Members disconnected for flooding. */
  floodDisconnects = 0;
  /** TLS handshakes that failed or timed out (the TLS door). */
  handshakeFailures = 0;
  /** Connections the chat doors' admission refused, by reason. */
  readonly refusals: Refusals = { "server-full": 0, "ip-limit": 0, banned: 0 };
  /** Connections the metrics port refused (its own caps), by reason. */
  readonly metricsRefusals: Refusals = {
    "server-full": 0,
    "ip-limit": 0,
    banned: 0,
  };
  /** Failed logins, by reason. */
  readonly loginFailures: LoginFailures = noLoginFailures();
  /** Moderation actions announced here, by kind. */
  readonly moderation: Map<string, number> = new Map(
    MODERATION_KINDS.map((kind) => [kind, 0]),
  );
  /** How long a turn's lines took to be made durable (journal or database). */
  readonly historyCommit: Histogram = new Histogram(SECONDS_BUCKETS);
  /** How long the database took the journal's lines. */
  readonly historyFlush: Histogram = new Histogram(SECONDS_BUCKETS);
  /** How long Redis took to answer a command (scripts included). */
  readonly redisCommand: Histogram = new Histogram(SECONDS_BUCKETS);

  /** A member who came in by `door` (none: a test's) said a line. */
  spoke(type: "MSG" | "ME", door: Door | undefined): void {
    if (door === undefined) return;
    const counts = this.doors[door];
    if (type === "MSG") counts.messages++;
    else counts.actions++;
  }

  /** A session ended for `reason` (its `BYE`): the slow and floods count. */
  ended(reason: string): void {
    if (reason === "slow") this.slowDrops++;
    else if (reason === "flood") this.floodDisconnects++;
  }

  /** A moderation action (a `MOD` action, or `topic`) was announced. */
  moderated(kind: string): void {
    const key = this.moderation.has(kind) ? kind : "other";
    this.moderation.set(key, this.moderation.get(key)! + 1);
  }
}

/** What the backend's probe found (see `RoomBackend.probe`). */
export interface BackendProbe {
  /** Why the database cannot take writes now; null: it can. */
  readonly unwritable: string | null;
  /** In a cluster: what Redis said; null for a server alone. */
  readonly redis: {
    /** Why Redis is not answering; null: it answered in time. */
    readonly down: string | null;
    /** Servers registered in the cluster (heartbeats not yet lost). */
    readonly servers: number;
    /** Entries in the cluster's stream (its log). */
    readonly streamEntries: number;
  } | null;
  /** Bytes of the data directory's database (pages in use). */
  readonly databaseBytes: number;
  /**
   * The search index's lag: lines not yet searchable, and lines it left
   * out since start (both 0 without history).
   */
  readonly search: { readonly waiting: number; readonly dropped: number };
}

/** What the registry reads at scrape time, besides {@linkcode ServerMetrics}. */
export interface ScrapeSources {
  /** The TLS engine of the chat and IRC doors (the web door's is node). */
  readonly engine: string;
  /** With `--redis`: its series are registered (none without Redis). */
  readonly clustered: boolean;
  /** Members online on this server. */
  online(): number;
  /** Rooms on this server (the default one included). */
  rooms(): number;
  /** Connections admitted and open, every door, handshakes included. */
  admitted(): number;
  /** Connections accepted since start (admission). */
  accepted(): number;
  /** The backend's last probe (made just before rendering). */
  probe(): BackendProbe;
  /** When the served certificate expires (ms since the epoch); null: none. */
  certificateExpiresMs(): number | null;
  /** Event-loop lag samples (seconds). */
  readonly lag: Histogram;
}

/** The registry of a server: its counters, named, and its gauges. */
export function serverRegistry(
  metrics: ServerMetrics,
  sources: ScrapeSources,
): Registry {
  const registry = new Registry();
  registry.gauge(
    "tlschat_build_info",
    "Always 1: the protocol and the Deno runtime this server runs.",
    [[{ protocol: PROTOCOL, deno: Deno.version.deno }, () => 1]],
  );
  registerConnections(registry, metrics, sources);
  registerRoom(registry, metrics, sources);
  registerAccess(registry, metrics);
  registerStorage(registry, metrics, sources);
  if (sources.clustered) registerRedis(registry, metrics, sources);
  registerProcess(registry, sources);
  return registry;
}

/** One series per door, read from its counts. */
function perDoor(
  metrics: ServerMetrics,
  read: (counts: DoorCounts) => number,
  engine?: string,
): Series[] {
  return (Object.keys(DOOR_LABELS) as Door[]).map((door) => {
    const labels: Record<string, string> = { door: DOOR_LABELS[door] };
    if (engine !== undefined) {
      labels.engine = door === "websocket" ? "node" : engine;
    }
    return [labels, () => read(metrics.doors[door])];
  });
}

function registerConnections(
  registry: Registry,
  metrics: ServerMetrics,
  sources: ScrapeSources,
): void {
  registry.gauge(
    "tlschat_connections",
    "Connections served by a session now, by door and TLS engine.",
    perDoor(metrics, (counts) => counts.connections, sources.engine),
  );
  registry.gauge(
    "tlschat_connections_admitted",
    "Connections holding a place in the admission now (every door, handshakes included).",
    () => sources.admitted(),
  );
  registry.counter(
    "tlschat_connections_accepted_total",
    "Connections accepted on every door since start.",
    () => sources.accepted(),
  );
  registry.counter(
    "tlschat_connections_refused_total",
    "Connections refused, by door: the chat doors (over --max-clients, over --max-per-ip, banned at the door) or the metrics port (over its own caps).",
    [
      ...(["server-full", "ip-limit", "banned"] as const).map((reason) =>
        [{ door: "chat", reason }, () => metrics.refusals[reason]] as const
      ),
      // The metrics port bans no one: its reasons are the two caps.
      ...(["server-full", "ip-limit"] as const).map((reason) =>
        [
          { door: "metrics", reason },
          () => metrics.metricsRefusals[reason],
        ] as const
      ),
    ],
  );
  registry.counter(
    "tlschat_tls_handshake_failures_total",
    "TLS handshakes on the chat port that failed or timed out.",
    () => metrics.handshakeFailures,
  );
}

function registerRoom(
  registry: Registry,
  metrics: ServerMetrics,
  sources: ScrapeSources,
): void {
  registry.gauge(
    "tlschat_members_online",
    "Members online on this server.",
    () => sources.online(),
  );
  registry.gauge(
    "tlschat_rooms",
    "Rooms on this server, the default one included.",
    () => sources.rooms(),
  );
  registry.counter(
    "tlschat_messages_total",
    "Messages said by members and stored (a resent one once), by the door they came in by.",
    perDoor(metrics, (counts) => counts.messages),
  );
  registry.counter(
    "tlschat_actions_total",
    "Actions (/me) said by members and stored, by the door they came in by.",
    perDoor(metrics, (counts) => counts.actions),
  );
  registry.counter(
    "tlschat_deliveries_total",
    "Room lines the fan-out sent to members' outbound queues (not to members held away).",
    () => metrics.deliveries,
  );
  registry.counter(
    "tlschat_slow_drops_total",
    "Members dropped because their outbound queue was full or stalled.",
    () => metrics.slowDrops,
  );
  registry.counter(
    "tlschat_flood_refusals_total",
    "Flood control: lines delayed over the rate, members disconnected.",
    [
      [{ action: "delayed" }, () => metrics.floodDelayed],
      [{ action: "disconnected" }, () => metrics.floodDisconnects],
    ],
  );
  registry.counter(
    "tlschat_moderation_actions_total",
    "Moderation actions and topics announced by operators here, by kind.",
    MODERATION_KINDS.map((
      kind,
    ) => [{ kind }, () => metrics.moderation.get(kind)!]),
  );
}

function registerAccess(registry: Registry, metrics: ServerMetrics): void {
  registry.counter(
    "tlschat_login_failures_total",
    "Failed logins by reason: wrong room password, account password or room key; refused while throttled or while checks were busy.",
    LOGIN_FAILURE_REASONS.map((
      reason,
    ) => [{ reason }, () => metrics.loginFailures[reason]]),
  );
}

function registerProcess(registry: Registry, sources: ScrapeSources): void {
  registry.gauge(
    "tlschat_certificate_expiry_timestamp_seconds",
    "When the served certificate expires, in seconds since the epoch.",
    () => (sources.certificateExpiresMs() ?? NaN) / 1000,
  );
  registry.gauge(
    "process_resident_memory_bytes",
    "Resident memory of the process.",
    () => Deno.memoryUsage().rss,
  );
  registry.gauge(
    "tlschat_heap_bytes",
    "The JavaScript heap: used and total.",
    [
      [{ kind: "used" }, () => Deno.memoryUsage().heapUsed],
      [{ kind: "total" }, () => Deno.memoryUsage().heapTotal],
    ],
  );
  registry.histogram(
    "tlschat_event_loop_lag_seconds",
    "How late a timer set every 0.5 s fired: time the event loop was busy.",
    sources.lag,
  );
}
