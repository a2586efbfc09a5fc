/**
 * The behaviour every {@linkcode Directory} must have, as one suite run
 * against each implementation (`LocalDirectory` in `directory_test.ts`,
 * `RedisDirectory` in `../cluster/redis_directory_test.ts`): a new
 * backend is proved by the same tests. Each case drives rooms over the
 * directory under test, as the server does, and awaits what members
 * receive (never a sleep).
 */

import assert from "node:assert/strict";
import type { ByeReason } from "../../../lib/server_lines.ts";
import type { Member } from "../../../lib/server/room/member.ts";
import type { Room } from "../../../lib/server/room/room.ts";
import type { Moderated } from "../../../lib/server/room/moderator.ts";
import {
  type RoomCommandContext,
  who,
} from "../../../lib/server/room/room_commands.ts";
import { hashResumeToken } from "../../../lib/server/room/hold.ts";
import { takeElsewhere } from "../../../lib/server/room/takeover.ts";

let ids = 0;

/** A member that records its lines and its goodbye, and can be awaited. */
export class ContractMember implements Member {
  /** Another server's member id once it takes that member over. */
  id: string;
  alias = "";
  readonly operator: boolean;
  readonly account: string | null;
  readonly host = "127.0.0.1";
  readonly lines: string[] = [];
  closed: [ByeReason, string] | null = null;
  #waiters = new Set<() => boolean>();

  /** A member whose id starts with `prefix` (its server's). */
  constructor(prefix: string, operator = false, account: string | null = null) {
    this.id = `${prefix}${++ids}`;
    this.operator = operator;
    this.account = account;
  }

  deliver(line: Uint8Array): boolean {
    this.lines.push(new TextDecoder().decode(line).replace(/\n$/, ""));
    this.#wake();
    return true;
  }

  close(reason: ByeReason, text: string): void {
    this.closed ??= [reason, text];
    this.#wake();
  }

  /** Resolves once a line starting with `start` came (the first such). */
  line(start: string): Promise<string> {
    return this.#until(() => this.lines.find((l) => l.startsWith(start)));
  }

  /** Resolves with its goodbye's reason once it was told to close. */
  bye(): Promise<ByeReason> {
    return this.#until(() => this.closed?.[0]);
  }

  #until<T>(found: () => T | undefined): Promise<T> {
    const { promise, resolve } = Promise.withResolvers<T>();
    const check = () => {
      const value = found();
      if (value === undefined) return false;
      resolve(value);
      return true;
    };
    if (!check()) this.#waiters.add(check);
    return promise;
  }

  #wake(): void {
    for (const check of this.#waiters) {
      if (check()) this.#waiters.delete(check);
    }
  }
}

/** Rooms over the directory under test, one per server. */
export interface DirectoryWorld {
  /** The room on each server (one, or two when the directory spans them). */
  readonly rooms: readonly Room<ContractMember>[];
  /**
   * A new member of server `server` (its id unique on every server),
   * logged into `account` when given.
   */
  member(
    server: number,
    operator?: boolean,
    account?: string,
  ): ContractMember;
}

/** One case of the contract. */
export interface DirectoryCase {
  readonly name: string;
  /** How many servers it needs. */
  readonly servers: 1 | 2;
  run(world: DirectoryWorld): Promise<void>;
}

/** Joins a new member of `server` as `alias` and returns it. */
async function joined(
  world: DirectoryWorld,
  server: number,
  alias: string,
  operator = false,
): Promise<ContractMember> {
  const member = world.member(server, operator);
  await world.rooms[server]!.join(member, alias);
  return member;
}

/** `/who` of the default room, as a member asks it (`room_commands.ts`). */
function whoOf(room: Room<ContractMember>, member: ContractMember): void {
  const ctx = { room, router: room.router } as unknown as RoomCommandContext<
    Moderated
  >;
  who(ctx, member as unknown as Moderated, ctx.router.rooms.default);
}

/** What `become` of a takeover makes: `member`, as the member it was. */
function becomes(member: ContractMember) {
  return (was: { id: string; alias: string }) => {
    member.id = was.id;
    member.alias = was.alias;
    return member;
  };
}

/** `alias` as `room` finds it: someone elsewhere, held or not. */
async function elsewhere(room: Room<ContractMember>, alias: string) {
  const found = await room.find(alias);
  assert.ok(found !== null && "elsewhere" in found, `${alias} elsewhere`);
  return found.elsewhere;
}

/** The contract: every directory passes every case it has servers for. */
export const DIRECTORY_CASES: readonly DirectoryCase[] = [
  {
    name:
      "a claimed alias is held in any case and against look-alikes, and free once its holder leaves",
    servers: 1,
    async run(world) {
      const [room] = world.rooms as [Room<ContractMember>];
      const alice = await joined(world, 0, "Alice");
      assert.match(await alice.line("WELCOME"), /^WELCOME Alice 1 /);
      for (const alias of ["alice", "ALICE", "AIice", "A1ice"]) {
        await assert.rejects(
          room.join(world.member(0), alias),
          /Cannot join room: alias "[^"]+" (is taken|looks like "Alice")/,
          alias,
        );
      }
      room.leave(alice, "quit");
      const next = await joined(world, 0, "alice");
      assert.equal(next.alias, "alice");
      assert.deepEqual(await room.find("ALICE"), { here: next });
    },
  },
  {
    name:
      "a rename holds the new alias and frees the old one; a taken one is refused and nothing changes",
    servers: 1,
    async run(world) {
      const [room] = world.rooms as [Room<ContractMember>];
      const amy = await joined(world, 0, "amy");
      const bo = await joined(world, 0, "bo");
      await room.rename(amy, "amelia");
      assert.equal(amy.alias, "amelia");
      assert.deepEqual(await bo.line("NICK"), "NICK amy amelia 2");
      await assert.rejects(room.rename(bo, "Amelia"), /is taken/);
      assert.equal(bo.alias, "bo");
      assert.deepEqual(await room.find("amelia"), { here: amy });
      assert.equal(await room.find("amy"), null);
      const other = await joined(world, 0, "amy");
      assert.equal(other.alias, "amy");
    },
  },
  {
    name:
      "an account holder takes its alias back: whoever held it is told BYE replaced",
    servers: 1,
    async run(world) {
      const [room] = world.rooms as [Room<ContractMember>];
      const guest = await joined(world, 0, "bob");
      const owner = world.member(0);
      await room.join(owner, "Bob", { replace: true });
      assert.equal(await guest.bye(), "replaced");
      assert.equal(room.has(guest), false);
      assert.deepEqual(await room.find("bob"), { here: owner });
    },
  },
  {
    name:
      "/who counts everyone and lists them alphabetically, operators marked, wherever they are",
    servers: 1,
    async run(world) {
      const [room] = world.rooms as [Room<ContractMember>];
      const zed = await joined(world, 0, "zed");
      await joined(world, 0, "Amy", true);
      await joined(world, 0, "bob");
      whoOf(room, zed);
      assert.equal(await zed.line("WHO"), "WHO 3 @Amy bob zed");
      room.leave(zed, "quit");
      const bob = (await room.find("bob")) as { here: ContractMember };
      whoOf(room, bob.here);
      assert.equal(await bob.here.line("WHO"), "WHO 2 @Amy bob");
    },
  },
  {
    name:
      "/msg reaches only its target, whatever the case of its alias; nobody by that alias is an error",
    servers: 1,
    async run(world) {
      const [room] = world.rooms as [Room<ContractMember>];
      const amy = await joined(world, 0, "amy");
      const bee = await joined(world, 0, "Bee");
      await room.replies.whisper(amy, "BEE", { text: "psst" });
      assert.equal(await bee.line("PRIV"), "PRIV amy psst");
      assert.equal(await amy.line("SENT"), "SENT Bee psst");
      await assert.rejects(
        room.replies.whisper(amy, "zed", { text: "x" }),
        /nobody is called "zed"/,
      );
    },
  },
  {
    name:
      "across servers: one alias for the whole room, /who counts both, /msg and a kick reach the other server",
    servers: 2,
    async run(world) {
      const [here, there] = world.rooms as [
        Room<ContractMember>,
        Room<ContractMember>,
      ];
      const amy = await joined(world, 0, "amy");
      const bo = await joined(world, 1, "bo");
      await assert.rejects(there.join(world.member(1), "AMY"), /is taken/);
      // Once amy's server handed bo's JOIN on, /who there counts bo.
      assert.equal(await amy.line("JOIN"), "JOIN bo 2");
      whoOf(here, amy);
      assert.equal(await amy.line("WHO"), "WHO 2 amy bo");
      const found = await here.find("BO");
      assert.ok(found !== null && "elsewhere" in found);
      assert.equal(found.elsewhere.id, bo.id);
      await here.replies.whisper(amy, "bo", { text: "psst" });
      assert.equal(await bo.line("PRIV"), "PRIV amy psst");
      assert.equal(await amy.line("SENT"), "SENT bo psst");
      await here.kick(found.elsewhere, "Kicked by amy");
      assert.equal(await bo.bye(), "kicked");
      assert.deepEqual(bo.closed, ["kicked", "Kicked by amy"]);
      assert.equal(there.has(bo), false);
      assert.equal(await here.find("bo"), null);
    },
  },
  {
    name:
      "a resume token of nobody elsewhere takes nothing over (one server: everyone is here)",
    servers: 1,
    async run(world) {
      const [room] = world.rooms as [Room<ContractMember>];
      const amy = await joined(world, 0, "amy");
      const token = room.holds.issue(amy)!;
      const tokenHash = hashResumeToken(token).toString("hex");
      const taker = world.member(0);
      assert.equal(
        await takeElsewhere(
          room,
          { tokenHash, roomsOn: false },
          becomes(taker),
        ),
        null,
      );
      assert.equal(
        await takeElsewhere(
          room,
          { account: "amy", roomsOn: false },
          becomes(taker),
        ),
        null,
      );
      assert.ok(room.has(amy));
      assert.equal(taker.alias, "");
      room.holds.release(amy);
    },
  },
  {
    name:
      "a member held on one server: /msg from the other is refused as away; its token takes it over there at once, unseen, once; its old server lets it go",
    servers: 2,
    async run(world) {
      const [here, there] = world.rooms as [
        Room<ContractMember>,
        Room<ContractMember>,
      ];
      const amy = await joined(world, 0, "amy");
      const bo = await joined(world, 1, "bo");
      const alice = await joined(world, 0, "alice");
      assert.equal(await bo.line("JOIN alice"), "JOIN alice 3");
      const token = here.holds.issue(alice)!;
      here.holds.hold(alice, () => assert.fail("not expired"));
      // The other server hears of the hold through the shared state.
      while (!(await elsewhere(there, "alice")).away) {
        // each look is a round trip to Redis
      }
      await assert.rejects(
        there.replies.whisper(bo, "alice", { text: "psst" }),
        /^ProtocolError: alice is reconnecting; try again shortly$/,
      );
      const tokenHash = hashResumeToken(token).toString("hex");
      // A taker with rooms cannot be a member without (as on one server).
      const roomy = { tokenHash, roomsOn: true };
      assert.equal(
        await takeElsewhere(there, roomy, becomes(world.member(1))),
        null,
      );
      // Two takers at once: one wins, the token is used up.
      const [back, late] = [world.member(1), world.member(1)];
      const taken = await Promise.all([
        takeElsewhere(there, { tokenHash, roomsOn: false }, becomes(back)),
        takeElsewhere(there, { tokenHash, roomsOn: false }, becomes(late)),
      ]);
      assert.deepEqual(taken, [back, null]);
      assert.equal(back.id, alice.id);
      assert.equal(back.alias, "alice");
      assert.equal(await alice.bye(), "replaced");
      assert.equal(here.has(alice), false);
      assert.equal(here.holds.held, 0);
      assert.ok(there.has(back));
      assert.equal((await elsewhere(here, "alice")).away, undefined);
      // It is in the room on its new server: lines reach it there.
      here.speak("MSG", amy, "welcome back");
      assert.equal(await back.line("MSG amy"), "MSG amy welcome back");
      await there.replies.whisper(bo, "alice", { text: "hi" });
      assert.equal(await back.line("PRIV"), "PRIV bo hi");
      // Its LEAVE, when it goes, comes from its new server, once.
      there.leave(back, "quit");
      assert.equal(await amy.line("LEAVE alice"), "LEAVE alice 2 quit");
      assert.equal(await bo.line("LEAVE alice"), "LEAVE alice 2 quit");
      for (const member of [amy, bo]) {
        assert.deepEqual(
          member.lines.filter((line) => /^(JOIN|LEAVE) alice/.test(line)),
          ["JOIN alice 3", "LEAVE alice 2 quit"],
        );
      }
    },
  },
  {
    name:
      "an account's login on another server takes over its own alias held there with a token, unseen; a guest's alias, or one without a token, is not",
    servers: 2,
    async run(world) {
      const [here, there] = world.rooms as [
        Room<ContractMember>,
        Room<ContractMember>,
      ];
      const bo = await joined(world, 1, "bo");
      const carol = world.member(0, false, "carol");
      await here.join(carol, "carol", { replace: true });
      const guest = await joined(world, 0, "dave");
      assert.equal(await bo.line("JOIN dave"), "JOIN dave 3");
      assert.equal(await bo.line("JOIN carol"), "JOIN carol 2");
      const taker = world.member(1, false, "carol");
      // No token yet: its server could not hold it, so it is not taken.
      assert.equal(
        await takeElsewhere(
          there,
          { account: "carol", roomsOn: false },
          becomes(taker),
        ),
        null,
      );
      here.holds.issue(carol);
      here.holds.issue(guest);
      assert.equal(
        await takeElsewhere(
          there,
          { account: "dave", roomsOn: false },
          becomes(taker),
        ),
        null,
      );
      let taken = null;
      for (let tries = 0; taken === null && tries < 100; tries++) {
        // Until its token's hash is in Redis (each try a round trip).
        taken = await takeElsewhere(
          there,
          { account: "carol", roomsOn: false },
          becomes(taker),
        );
      }
      assert.equal(taken, taker);
      assert.equal(taker.id, carol.id);
      assert.equal(await carol.bye(), "replaced");
      assert.ok(there.has(taker));
      assert.ok(here.has(guest));
      assert.deepEqual(
        bo.lines.filter((line) => /^(JOIN|LEAVE) carol/.test(line)),
        ["JOIN carol 2"],
      );
      here.holds.release(guest);
      there.holds.release(taker);
    },
  },
];
