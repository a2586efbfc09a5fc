/**
 * The server's flags as the command line knows them: one table (name,
 * value, default, help) that `--help`, the README and `parseServerArgs`
 * (`server_args.ts`, which checks values) read, and the TLS engines'
 * names. The history's flags and the cluster's are tables of their own
 * (`lib/history_flags.ts`, `lib/cluster_flags.ts`), spread in at their
 * place. Their limits are
 * typed once, in `config.ts`.
 *
 * @module
 */

import type { FlagTable } from "../flags.ts";
import { LOG_LEVELS } from "../log.ts";
import { CLUSTER_FLAGS } from "../cluster_flags.ts";
import { HISTORY_FLAGS } from "../history_flags.ts";

/** TLS engines a server can listen with. */
export const TLS_ENGINES = ["node", "deno"] as const;

/** A TLS engine name. */
export type TlsEngine = (typeof TLS_ENGINES)[number];

/** Port of a room when none is given. */
export const DEFAULT_PORT = 7443;

/** Port of the browser client when none is given. */
export const DEFAULT_WEB_PORT = 7444;

/** Server flags; outside tools rely on these names. */
export const SERVER_FLAGS = {
  host: {
    type: "string",
    value: "HOST",
    default: "0.0.0.0",
    help: "Address to listen on",
  },
  port: {
    type: "string",
    value: "N",
    default: String(DEFAULT_PORT),
    help: "Port to listen on (0 picks a free one)",
  },
  "web-port": {
    type: "string",
    value: "N",
    default: String(DEFAULT_WEB_PORT),
    help: "HTTPS port of the browser client (0: no web client)",
  },
  "irc-port": {
    type: "string",
    value: "N",
    help:
      "TLS port of the IRC door (6697 is usual; 0 picks a free one); default: no IRC door",
  },
  "irc-host": {
    type: "string",
    value: "HOST",
    help: "Address the IRC door listens on; default: --host",
  },
  "web-origin": {
    type: "string",
    value: "ORIGIN",
    multiple: true,
    help:
      "Another origin whose pages may join, e.g. behind a proxy: https://chat.example (repeatable)",
  },
  "metrics-port": {
    type: "string",
    value: "N",
    help:
      "Plain HTTP port for /metrics (Prometheus), /readyz and /healthz (default: none; 0 picks a free one)",
  },
  "metrics-host": {
    type: "string",
    value: "HOST",
    default: "127.0.0.1",
    help: "Address of the metrics port (anyone who reaches it sees the counts)",
  },
  cert: {
    type: "string",
    value: "FILE",
    help:
      "PEM certificate chain to serve (with --key); default: the dev certificate in --certs-dir",
  },
  key: { type: "string", value: "FILE", help: "PEM private key of --cert" },
  "certs-dir": {
    type: "string",
    value: "DIR",
    default: "certs",
    help: "Where the dev CA and server certificate live (made when missing)",
  },
  san: {
    type: "string",
    value: "NAME",
    multiple: true,
    help: "Extra DNS name or IP for a generated certificate (repeatable)",
  },
  "new-ca": {
    type: "boolean",
    help: "With 'certs': make a new CA too (clients must fetch the new ca.pem)",
  },
  name: {
    type: "string",
    value: "NAME",
    default: "tlschat",
    help: "Server name sent in the greeting",
  },
  "data-dir": {
    type: "string",
    value: "DIR",
    default: "data",
    help: "Where the database lives (accounts, bans, topic); created mode 0700",
  },
  ...HISTORY_FLAGS,
  ...CLUSTER_FLAGS,
  "password-file": {
    type: "string",
    value: "FILE",
    help: "Room password guests must give (the file's first line)",
  },
  "accounts-only": {
    type: "boolean",
    help: "Only registered aliases (accounts) may join",
  },
  "client-ca": {
    type: "string",
    value: "FILE",
    help:
      "Ask clients for a certificate signed by this CA (PEM), on both ports; node engine only",
  },
  "client-cert": {
    type: "string",
    value: "MODE",
    default: "optional",
    help:
      "With --client-ca: require (no valid certificate, no handshake, on both ports) or optional",
  },
  "trusted-proxy": {
    type: "string",
    value: "ADDRESS[/PREFIX]",
    multiple: true,
    help:
      "A load balancer whose PROXY header (either port) or X-Forwarded-For (web port) names the client (repeatable; node engine)",
  },
  "login-attempts": {
    type: "string",
    value: "N",
    default: "5",
    help:
      "Failed logins and room passwords per address before waits (doubling, up to 64 times)",
  },
  "login-refill": {
    type: "string",
    value: "S",
    default: "60",
    help: "Seconds of the first wait after those failures",
  },
  "account-attempts": {
    type: "string",
    value: "N",
    default: "20",
    help:
      "Failures per account from addresses that never logged into it, and wrong room passwords in all and per IPv6 /48, before waits",
  },
  "max-line-bytes": {
    type: "string",
    value: "N",
    default: "4096",
    help: "Longest accepted line in bytes; longer lines are rejected",
  },
  "max-skip-bytes": {
    type: "string",
    value: "N",
    default: "65536",
    help:
      "Length at which an over-long line ends the connection instead of being skipped",
  },
  "max-input-bytes": {
    type: "string",
    value: "N",
    default: "65536",
    help:
      "Input that may still arrive after a connection stopped reading a client it is delaying, before it is disconnected",
  },
  "max-clients": {
    type: "string",
    value: "N",
    default: "10000",
    help: "Most connections at once",
  },
  "max-per-ip": {
    type: "string",
    value: "N",
    default: "20",
    help: "Most connections from one remote address (0: no cap)",
  },
  "max-refusals": {
    type: "string",
    value: "N",
    default: "64",
    help:
      "Refused connections told why at once (BYE line); more are closed without a word",
  },
  "max-unreleased": {
    type: "string",
    value: "N",
    default: "256",
    help: "Closed sockets the TLS engine holds before accepting pauses",
  },
  "flood-rate": {
    type: "string",
    value: "N",
    default: "5",
    help: "Lines a second a client may send on average (0: no flood control)",
  },
  "flood-burst": {
    type: "string",
    value: "N",
    default: "10",
    help: "Lines a client may send at once before being throttled",
  },
  "queue-bytes": {
    type: "string",
    value: "N",
    default: "262144",
    help:
      "Outbound bytes held for a member (counting shared buffers it pins) before it is dropped as too slow",
  },
  "stall-timeout": {
    type: "string",
    value: "S",
    default: "2",
    help:
      "Seconds a member may hold the room up (room lines queued for it over half of --queue-bytes, without a break: reading part of them does not count) before it is dropped as too slow",
  },
  "handshake-timeout": {
    type: "string",
    value: "S",
    default: "10",
    help:
      "Seconds allowed for the TLS handshake and a trusted proxy's PROXY header; on the web port also for each HTTP request to arrive (at most 30)",
  },
  "alias-timeout": {
    type: "string",
    value: "S",
    default: "60",
    help: "Seconds allowed to choose an alias",
  },
  "idle-timeout": {
    type: "string",
    value: "S",
    default: "300",
    help: "Seconds of silence before disconnecting; PING at half (0: off)",
  },
  "resume-grace": {
    type: "string",
    value: "S",
    default: "30",
    help:
      "Seconds a dropped member with resume is held, to come back unseen (0: off)",
  },
  "close-grace": {
    type: "string",
    value: "S",
    default: "2",
    help: "Seconds a closing connection has to flush its last lines",
  },
  "shutdown-grace": {
    type: "string",
    value: "S",
    default: "3",
    help:
      "Seconds shutdown waits for every queue to flush (with --redis, then as long for Redis)",
  },
  "announce-limit": {
    type: "string",
    value: "N",
    default: "100",
    help: "Largest room whose joins and leaves are announced one by one",
  },
  "default-room": {
    type: "string",
    value: "#ROOM",
    default: "#lobby",
    help:
      "The room everyone is in after joining (clients without rooms: the only one)",
  },
  "room-create": {
    type: "string",
    value: "WHO",
    help:
      "Who may create a room with /join: any, accounts or operators (default: accounts when accounts exist, else any)",
  },
  "max-rooms": {
    type: "string",
    value: "N",
    default: "1000",
    help: "Rooms on the server at most, the default room included",
  },
  "max-rooms-per-member": {
    type: "string",
    value: "N",
    default: "20",
    help: "Rooms one member may be in at once",
  },
  "room-grace": {
    type: "string",
    value: "S",
    default: "600",
    help: "Seconds an empty unregistered room lives on before it vanishes",
  },
  "room-creations": {
    type: "string",
    value: "N",
    default: "10",
    help:
      "Rooms one account (or a guest's address group, and IPv6 /48) may create an hour",
  },
  "max-room-entries": {
    type: "string",
    value: "N",
    default: "100",
    help: "Most operators, invites, bans, mutes a registered room keeps, each",
  },
  "log-level": {
    type: "string",
    value: "LEVEL",
    default: "info",
    help: `Log detail: ${LOG_LEVELS.join(", ")}`,
  },
  "tls-engine": {
    type: "string",
    value: "ENGINE",
    default: "node",
    help: `TLS listener: ${
      TLS_ENGINES.join(", ")
    } (deno must not face untrusted networks; see README)`,
  },
  help: { type: "boolean", help: "Show this help" },
} as const satisfies FlagTable;
