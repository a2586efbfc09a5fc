/**
 * Operator commands, carried out: `/kick`, `/ban`, `/unban`, `/bans`,
 * `/mute`, `/unmute` and `/topic TEXT`. Each checks that the one asking is
 * an operator now (so `users deop` takes effect at once), that the target
 * is not one (operators are only removed by the server's owner, with
 * `users deop`), records what outlives the connection, announces the action
 * to the room with who did it, and removes or silences the members it
 * applies to. Refusals are `ProtocolError`s for the session to send back.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { ProtocolError } from "../../protocol.ts";
import type { Command } from "../../commands.ts";
import type { Accounts } from "../access/accounts.ts";
import {
  addressGroup,
  type AddressRange,
  parseAddressRange,
} from "../../address.ts";
import {
  describeSanction,
  type Identity,
  type Moderation,
  type Sanction,
  type SanctionType,
  sharedSanctions,
} from "../access/moderation.ts";
import type { Someone } from "./directory.ts";
import type { Member } from "./member.ts";
import type { Room } from "./room.ts";
import { cutNote } from "./replies.ts";
import type { EventEffect } from "./room_log.ts";

/** A member as the moderator sees it. */
export interface Moderated extends Member {
  /** Its account's alias when logged in; null for a guest. */
  readonly account: string | null;
  /** Remote host, for address bans. */
  readonly host: string;
  /** Silences it until `untilMs` (null: until lifted), or unsilences it. */
  mute(sanction: Sanction | null): void;
}

/** The operator commands. */
export type ModeratorCommand = Extract<
  Command,
  { kind: "kick" | "ban" | "unban" | "bans" | "mute" | "unmute" | "topic" }
>;

/** What carrying out an operator command needs. */
export interface ModeratorContext<M extends Moderated> {
  readonly room: Room<M>;
  readonly moderation: Moderation;
  readonly accounts: Accounts;
  readonly clock: Clock;
}

const identity = (member: Someone): Identity => ({
  account: member.account,
  host: member.host,
});

/**
 * Carries out an operator command for `actor`. `/topic` without text is for
 * everyone (it shows the topic); everything else needs an operator.
 */
// Async so that a refusal is a rejection.
// deno-lint-ignore require-await
export async function moderate<M extends Moderated>(
  ctx: ModeratorContext<M>,
  actor: M,
  command: ModeratorCommand,
): Promise<void> {
  if (command.kind === "topic" && command.text === "") {
    const topic = ctx.moderation.topic;
    if (topic) {
      ctx.room.replies.tellTopic(actor, topic);
    } else {
      ctx.room.replies.tell(actor, { type: "INFO", text: "No topic is set" });
    }
    return;
  }
  const account = actor.account === null
    ? null
    : ctx.accounts.get(actor.account);
  if (!account?.operator) {
    throw new ProtocolError(
      "not-operator",
      `/${command.kind} is for operators only`,
    );
  }
  const carryOut = CARRY_OUT[command.kind] as CarryOut<ModeratorCommand>;
  return carryOut(ctx, actor, command);
}

/** How one operator command is carried out, once its actor is checked. */
type CarryOut<C extends ModeratorCommand> = <M extends Moderated>(
  ctx: ModeratorContext<M>,
  actor: M,
  command: C,
) => Promise<void> | void;

/** Each operator command, carried out. */
const CARRY_OUT: {
  readonly [K in ModeratorCommand["kind"]]: CarryOut<
    Extract<ModeratorCommand, { kind: K }>
  >;
} = {
  topic: setTopic,
  kick,
  ban: sanction,
  mute: sanction,
  unban: lift,
  unmute: lift,
  bans: listBans,
};

/** `/topic TEXT`: kept, and announced with what it is. */
function setTopic<M extends Moderated>(
  ctx: ModeratorContext<M>,
  actor: M,
  command: Extract<ModeratorCommand, { kind: "topic" }>,
): void {
  const topic = { text: command.text, by: actor.alias, at: ctx.clock.now() };
  ctx.moderation.setTopic(topic);
  ctx.room.announce(
    { type: "TOPIC", alias: actor.alias, text: command.text },
    actor,
    { kind: "topic", topic },
  );
}

/** `/kick ALIAS [REASON]`: announced, then the member is removed. */
async function kick<M extends Moderated>(
  ctx: ModeratorContext<M>,
  actor: M,
  command: Extract<ModeratorCommand, { kind: "kick" }>,
): Promise<void> {
  const by = actor.alias;
  const target = await present(ctx, command.target);
  const reason = command.reason === "" ? "" : `: ${command.reason}`;
  ctx.room.announce(mod("kick", target.alias, by, command.reason), actor);
  return ctx.room.kick(target, `Kicked by ${by}${reason}`);
}

/** `/ban` and `/mute`: recorded, announced with what is in force, applied. */
async function sanction<M extends Moderated>(
  ctx: ModeratorContext<M>,
  actor: M,
  command: Extract<ModeratorCommand, { kind: "ban" | "mute" }>,
): Promise<void> {
  const { room, moderation } = ctx;
  const by = actor.alias;
  const { targets, label } = sanctionTargets(
    ctx,
    command.target,
    command.kind,
    await someone(ctx, command.target),
  );
  const sanctions = targets.map((target) =>
    moderation.add(command.kind, target, {
      durationMs: command.durationMs,
      by,
      reason: command.reason,
      label,
    })
  );
  const first = sanctions[0]!;
  room.announce(
    mod(command.kind, label, by, describeSanction(first)),
    actor,
    inForce(ctx),
  );
  // Other servers apply them to their own members as the line passes.
  return enforceSanctions(room, moderation);
}

/** `/unban` and `/unmute`: lifted, announced with what is still in force. */
async function lift<M extends Moderated>(
  ctx: ModeratorContext<M>,
  actor: M,
  command: Extract<ModeratorCommand, { kind: "unban" | "unmute" }>,
): Promise<void> {
  const { room, moderation } = ctx;
  const by = actor.alias;
  const type: SanctionType = command.kind === "unban" ? "ban" : "mute";
  const present = await someone(ctx, command.target);
  const lifted = present
    ? moderation.removeFor(type, identity(present))
    : moderation.remove(type, command.target);
  if (lifted === 0) {
    throw new ProtocolError(
      "no-such-sanction",
      `Nothing to lift: "${command.target}" is not ${
        type === "ban" ? "banned" : "muted"
      }`,
    );
  }
  room.announce(
    mod(command.kind, present?.alias ?? command.target, by, ""),
    actor,
    inForce(ctx),
  );
  return enforceSanctions(room, moderation);
}

/** `/bans`: the bans in force, to the operator alone. */
function listBans<M extends Moderated>(
  ctx: ModeratorContext<M>,
  actor: M,
): void {
  const bans = ctx.moderation.list("ban");
  const shown = ctx.room.replies.list(
    actor,
    bans.map((ban) => ({
      line: {
        type: "BAN",
        kind: ban.kind,
        target: ban.label === ban.target
          ? ban.target
          : `${ban.target}(${ban.label})`,
        until: ban.until === null ? "-" : new Date(ban.until).toISOString(),
        by: ban.by,
        text: ban.reason,
      },
      at: ban.at,
    })),
  );
  const cut = cutNote(shown, bans.length, "first");
  ctx.room.replies.tell(actor, {
    type: "INFO",
    text: `${bans.length} ${bans.length === 1 ? "ban" : "bans"}${cut}`,
  });
}

/**
 * The bans and mutes in force, for the `MOD` line to carry: each server
 * takes them on as the line passes, before its members see it.
 */
function inForce<M extends Moderated>(
  ctx: ModeratorContext<M>,
): EventEffect {
  return {
    kind: "sanctions",
    sanctions: sharedSanctions(ctx.moderation.all()),
  };
}

/**
 * Applies the bans and mutes in force to the members present (operators
 * excepted): the banned are dismissed, the others check their mute when
 * they next speak.
 */
export function enforceSanctions<M extends Moderated>(
  room: Room<M>,
  moderation: Moderation,
): void {
  for (const member of [...room.members()]) {
    if (member.operator) continue;
    const ban = moderation.find("ban", identity(member));
    if (ban) room.dismiss(member, "banned", `Banned ${describeSanction(ban)}`);
    else member.mute(moderation.find("mute", identity(member)));
  }
}

function mod(action: string, alias: string, by: string, text: string) {
  return { type: "MOD", action, alias, by, text } as const;
}

/** Whoever is called `alias`, on this server or another. */
async function someone<M extends Moderated>(
  ctx: ModeratorContext<M>,
  alias: string,
): Promise<Someone | undefined> {
  let found;
  try {
    found = await ctx.room.find(alias);
  } catch (error) {
    throw new ProtocolError(
      "unavailable",
      "Cannot find them now: the room's servers cannot reach each other; try again",
      { cause: error },
    );
  }
  if (found === null) return undefined;
  return "here" in found ? found.here : found.elsewhere;
}

/** The present member called `alias`, who must not be an operator. */
async function present<M extends Moderated>(
  ctx: ModeratorContext<M>,
  alias: string,
): Promise<Someone> {
  const member = await someone(ctx, alias);
  if (member === undefined) {
    throw new ProtocolError("no-such-alias", `Nobody is called "${alias}"`);
  }
  if (member.operator) throw notPermitted(member.alias);
  return member;
}

/**
 * Whom a ban or mute names, and how to call it in public. A present member
 * comes first (an alias may look like an address): by account when logged
 * in, and also by its address group (so that it cannot come back as a
 * guest), or a guest by address group (its /64 for IPv6), always called by
 * its alias so the room never sees an address. Then an address range as
 * written (bans only), then an absent account by name.
 */
function sanctionTargets<M extends Moderated>(
  ctx: ModeratorContext<M>,
  target: string,
  type: SanctionType,
  member: Someone | undefined,
): {
  targets: ({ account: string } | { range: AddressRange })[];
  label: string;
} {
  if (member !== undefined) {
    if (member.operator) throw notPermitted(member.alias);
    const group = addressGroup(member.host);
    const byAddress = group === null ? [] : [{ range: group }];
    if (member.account === null && group === null) {
      throw new ProtocolError(
        "no-such-alias",
        `Cannot ${type} "${member.alias}": its address is unknown`,
      );
    }
    return member.account !== null
      ? {
        targets: [{ account: member.account }, ...byAddress],
        label: member.account,
      }
      : { targets: byAddress, label: member.alias };
  }
  const range = type === "ban" ? parseAddressRange(target) : null;
  if (range !== null) return { targets: [{ range }], label: range.text };
  const account = ctx.accounts.get(target);
  if (account === null) {
    throw new ProtocolError(
      "no-such-alias",
      `Nobody is called "${target}" and no account has that name`,
    );
  }
  if (account.operator) throw notPermitted(account.alias);
  return { targets: [{ account: account.alias }], label: account.alias };
}

function notPermitted(alias: string): ProtocolError {
  return new ProtocolError(
    "not-permitted",
    `"${alias}" is an operator: only the server's owner can remove operators (users deop)`,
  );
}
