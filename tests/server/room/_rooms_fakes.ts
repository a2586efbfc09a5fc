/**
 * The rooms of one server with fake members and a fake clock, no sockets:
 * what the rooms tests drive (a member that records what it receives, the
 * room commands of a member, refusals as `code text`).
 */

import { ProtocolError } from "../../../lib/protocol.ts";
import type { Accounts } from "../../../lib/server/access/accounts.ts";
import type { Moderation } from "../../../lib/server/access/moderation.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import type { Moderated } from "../../../lib/server/room/moderator.ts";
import { Room } from "../../../lib/server/room/room.ts";
import type { RoomCommandContext } from "../../../lib/server/room/room_commands.ts";
import { roomLine } from "../../../lib/server/room/room_lines.ts";
import type { RoomLimits } from "../../../lib/server/room/rooms.ts";
import type { RoomLog } from "../../../lib/server/room/room_log.ts";
import type { RoomStore } from "../../../lib/server/room/room_store.ts";
import type { RoomsSnapshot } from "../../../lib/server/room/rooms_snapshot.ts";
import type { ByeReason } from "../../../lib/server_lines.ts";
import { FakeClock } from "../../_fakes.ts";
import { SERVER_SETTINGS } from "../../../lib/server/config.ts";

let ids = 0;

/** A member that records what it receives. */
export class FakeMember implements Moderated {
  readonly id = String(++ids);
  alias = "";
  operator = false;
  account: string | null = null;
  host = `10.0.${ids}.1`;
  roomsOn = true;
  inbox: string[] = [];
  deliver(line: Uint8Array): boolean {
    this.inbox.push(new TextDecoder().decode(line).replace(/\n$/, ""));
    return true;
  }
  close(_reason: ByeReason, _text: string): void {}
  mute(): void {}
  take(): string[] {
    return this.inbox.splice(0);
  }
}

export const LIMITS: RoomLimits = {
  defaultRoom: "#lobby",
  roomCreate: "any",
  maxRooms: 1000,
  maxRoomsPerMember: 20,
  roomGraceMs: 600_000,
  roomCreations: 10,
  maxRoomEntries: 100,
  roomReasonBytes: SERVER_SETTINGS.roomReasonBytes,
  roomRecordBytes: SERVER_SETTINGS.roomRecordBytes,
};

/** What else a fake server may be built with. */
export interface ServerParts {
  readonly clock?: FakeClock;
  /** @default {a MemoryLog of its own} */
  readonly log?: RoomLog;
  readonly snapshot?: RoomsSnapshot;
  readonly store?: RoomStore;
  /** @default {no accounts} */
  readonly accounts?: Pick<Accounts, "get">;
}

export function server(
  limits: Partial<RoomLimits> = {},
  history = 50,
  parts: ServerParts = {},
) {
  const clock = parts.clock ?? new FakeClock();
  const room = new Room<FakeMember>({
    log: parts.log ?? new MemoryLog(clock, 1000),
    announceLimit: 100,
    clock,
    rooms: {
      ...LIMITS,
      ...limits,
      history,
      snapshot: parts.snapshot,
      store: parts.store,
    },
  });
  const router = room.router!;
  /** The server operators' commands handed on (the default room's). */
  const moderated: string[] = [];
  const ctx = (): RoomCommandContext<FakeMember> => ({
    room,
    router,
    history,
    now: clock.now(),
    moderation: { setTopic() {} } as unknown as Moderation,
    moderate: (command) => {
      moderated.push(command.kind);
      return Promise.resolve();
    },
    accounts: parts.accounts ?? { get: () => null },
  });
  const join = async (
    alias: string,
    options: Partial<FakeMember> = {},
  ): Promise<FakeMember> => {
    const member = Object.assign(new FakeMember(), options);
    await room.join(member, alias, {
      onEnter: () => router.enter(member, router.rooms.default),
    });
    return member;
  };
  return { clock, room, router, join, line: lineIn(ctx), ctx, moderated };
}

/** Handles a rooms client's line in `ctx()` (room commands only: others throw). */
export function lineIn(
  ctx: () => RoomCommandContext<FakeMember>,
  checkMute: (member: FakeMember) => void = () => {},
): (member: FakeMember, text: string) => Promise<void> | void {
  return (member, text) =>
    roomLine(ctx(), member, text, {
      checkMute: () => checkMute(member),
      common(command) {
        throw new Error(`not a room command: ${command.kind}`);
      },
    });
}

/** The code of the ProtocolError `fn` throws (or rejects with). */
export async function refusal(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof ProtocolError) return `${error.code} ${error.message}`;
    throw error;
  }
  throw new Error("not refused");
}
