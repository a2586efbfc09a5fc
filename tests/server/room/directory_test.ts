/**
 * `LocalDirectory`, the default and the test double, against the
 * Directory contract: one server, a log in memory, a fake clock, no
 * sockets.
 */

import { LocalDirectory } from "../../../lib/server/room/directory.ts";
import { Room } from "../../../lib/server/room/room.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { FakeClock } from "../../_fakes.ts";
import { ContractMember, DIRECTORY_CASES } from "./directory_contract.ts";

for (const contract of DIRECTORY_CASES) {
  if (contract.servers > 1) continue; // one server has nobody elsewhere
  Deno.test(`LocalDirectory: ${contract.name}`, async () => {
    const clock = new FakeClock();
    const room = new Room<ContractMember>({
      log: new MemoryLog(clock),
      announceLimit: 100,
      clock,
      directory: new LocalDirectory(),
      resumeGraceMs: 30_000,
    });
    await contract.run({
      rooms: [room],
      member: (_server, operator, account) =>
        new ContractMember("", operator, account),
    });
    room.close();
  });
}
