/**
 * The server's cluster flags (`--redis` and what goes with it): a table
 * of their own, spread into `SERVER_FLAGS` (`lib/server/server_flags.ts`)
 * at their place in `--help`. Here, at the top of `lib/`, because the
 * server's flag table may import only from here.
 *
 * @module
 */

import type { FlagTable } from "./flags.ts";

/** The flags that make servers one room on Redis, in `--help`'s order. */
export const CLUSTER_FLAGS = {
  redis: {
    type: "string",
    value: "URL",
    help:
      "Form one room with every server on this Redis (redis://[:password@]host:port/db or rediss://)",
  },
  cluster: {
    type: "string",
    value: "NAME",
    default: "tlschat",
    help: "With --redis: the cluster's name; servers sharing it are one room",
  },
  "redis-stream-entries": {
    type: "string",
    value: "N",
    default: "100000",
    help:
      "With --redis: newest room events the Redis stream keeps, joins and leaves included (0: no limit)",
  },
  "redis-timeout": {
    type: "string",
    value: "S",
    default: "5",
    help:
      "With --redis: seconds Redis has to answer a command before it counts as not answering",
  },
  "redis-retry": {
    type: "string",
    value: "S",
    default: "15",
    help:
      "With --redis: seconds a message whose storing is in doubt is sent again before its sender hears ERR unknown",
  },
  heartbeat: {
    type: "string",
    value: "S",
    default: "1",
    help: "With --redis: seconds between this server's heartbeats",
  },
  "lost-after": {
    type: "string",
    value: "S",
    default: "5",
    help:
      "With --redis: seconds without a heartbeat after which a server counts as lost and its members as gone",
  },
} as const satisfies FlagTable;
