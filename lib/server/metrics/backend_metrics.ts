/**
 * The families of the data directory and of Redis in the server's
 * registry (`serverRegistry`): history commits, the database's size and
 * writability; with `--redis` only, Redis's answers and the cluster's
 * servers (a server alone has no such series at all, rather than a
 * `tlschat_redis_up 0` that would read as an outage).
 *
 * @module
 */

import type { Registry } from "./registry.ts";
import type { ScrapeSources, ServerMetrics } from "./server_metrics.ts";

/** History commits, the database's size and whether it takes history. */
export function registerStorage(
  registry: Registry,
  metrics: ServerMetrics,
  sources: ScrapeSources,
): void {
  registry.histogram(
    "tlschat_history_commit_seconds",
    "Time to make history durable: a turn's lines (journal or database), the journal's lines taken by the database.",
    [[{ step: "turn" }, metrics.historyCommit], [
      { step: "flush" },
      metrics.historyFlush,
    ]],
  );
  registry.gauge(
    "tlschat_history_database_bytes",
    "Bytes of the data directory's database in use (history, accounts, rooms).",
    () => sources.probe().databaseBytes,
  );
  registry.gauge(
    "tlschat_search_index_waiting_lines",
    "Messages and actions handed on and not yet searchable: the index is written in the background, and lags while the server is busy.",
    () => sources.probe().search.waiting,
  );
  registry.counter(
    "tlschat_search_index_dropped_lines_total",
    "Lines left out of the index since start, too many waiting (one server: taken again from chat.db once the index caught up).",
    () => sources.probe().search.dropped,
  );
  registry.gauge(
    "tlschat_database_writable",
    "1 while history commits succeed and the journal can be written (as /readyz; no test write).",
    () => sources.probe().unwritable === null ? 1 : 0,
  );
}

/** With `--redis` only: Redis's answers and the cluster's servers. */
export function registerRedis(
  registry: Registry,
  metrics: ServerMetrics,
  sources: ScrapeSources,
): void {
  const redis = () => sources.probe().redis;
  registry.gauge(
    "tlschat_redis_up",
    "1 when Redis answered the last probe (at most 1 s old) within a second.",
    () => redis()?.down === null ? 1 : 0,
  );
  registry.histogram(
    "tlschat_redis_command_seconds",
    "Time Redis took to answer a command or script (answers only: failures show in the log).",
    metrics.redisCommand,
  );
  registry.gauge(
    "tlschat_cluster_servers",
    "Servers alive in the cluster at this one's last heartbeat, this one included.",
    () => redis()?.servers ?? 0,
  );
  registry.gauge(
    "tlschat_redis_stream_entries",
    "Entries in the cluster's stream (its log).",
    () => redis()?.streamEntries ?? 0,
  );
}
