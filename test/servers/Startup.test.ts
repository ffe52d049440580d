/**
 * Every example server reads PROFILE_INSIGHTS_DB as the CLI reads --db: a
 * value that names no database exits 2 with a line naming the variable,
 * a database that cannot be opened exits 1 with a line saying why. Real
 * server processes.
 */
import { describe, expect, it } from "@effect/vitest"
import { dirname } from "node:path"
import { availableServers, launchServer, ServerStartError } from "../support/ServerProcess.js"
import { tempDatabase } from "../support/Storage.js"

/** How a server that must not start ends: its exit and its stderr. */
const refusedStart = async (name: (typeof servers)[number], db: string) => {
  const error = await launchServer(name, { PROFILE_INSIGHTS_DB: db }).then(
    () => expect.unreachable(`${name} started on ${db}`),
    (error: unknown) => error
  )
  expect(error).toBeInstanceOf(ServerStartError)
  const { reason, output } = error as ServerStartError
  return { reason, stderr: output.slice(output.indexOf("--- stderr ---\n") + 15).trim() }
}

const servers = availableServers()

describe.each(servers)("the %s server", (name) => {
  it("exits 2 on a PROFILE_INSIGHTS_DB with a typo'd scheme, 1 on a directory", async () => {
    const directory = dirname(tempDatabase())
    const [typo, unopenable] = await Promise.all([
      refusedStart(name, "postgress://me:hunter2@127.0.0.1/x"),
      refusedStart(name, directory)
    ])
    expect(typo.reason).toBe("exited (code 2, signal null) before listening")
    expect(typo.stderr.split("\n")).toHaveLength(1)
    // effect-http logs in logfmt, which escapes the quotes.
    expect(typo.stderr).toMatch(/PROFILE_INSIGHTS_DB: unsupported scheme \\?"postgress:\\?"/)
    expect(typo.stderr).not.toContain("hunter2")
    expect(unopenable.reason).toBe("exited (code 1, signal null) before listening")
    expect(unopenable.stderr.split("\n")).toHaveLength(1)
    expect(unopenable.stderr).toContain(`cannot open ${directory}: it is a directory`)
  })
})
