/**
 * `profile-insights worker` runs the repair sweep beside its runner, as
 * Insights.layer does in any host: a profile whose aggregate was lost is
 * aggregated again by the worker alone, the repair audited. Real child
 * processes on a real SQLite file.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { resolve } from "node:path"
import { root, runCli, startCli } from "../support/Cli.js"
import { tempDatabase } from "../support/Storage.js"

const count = (db: string, query: string): number => {
  const sqlite = new Database(db, { readonly: true })
  try {
    return (sqlite.prepare(query).get() as { n: number }).n
  } finally {
    sqlite.close()
  }
}

/** Checks `done` every 100 ms until it holds; fails naming `what` after `bound` ms. */
const until = async (what: string, done: () => boolean, bound: number) => {
  const deadline = Date.now() + bound
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe("the worker command", () => {
  it("repairs a lost aggregate with its own sweep", async () => {
    const db = tempDatabase()
    const sample = resolve(root, "examples/data/sample-profile.json")
    const analysed = await runCli(["analyze", sample, "--db", db, "--json"])
    expect(analysed.code).toBe(0)
    const sqlite = new Database(db)
    sqlite.prepare("DELETE FROM pi_profile_insights").run()
    sqlite.close()
    expect(count(db, "SELECT COUNT(*) AS n FROM pi_profile_insights")).toBe(0)

    const worker = startCli("node", ["worker", "--db", db, "--sweep", "1", "--poll", "100"])
    try {
      await until(
        "the worker's sweep to aggregate the profile again",
        () => count(db, "SELECT COUNT(*) AS n FROM pi_profile_insights") === 1,
        45_000
      )
    } finally {
      worker.signal("SIGTERM")
    }
    await worker.exited
    expect(count(db, "SELECT COUNT(*) AS n FROM pi_repairs")).toBeGreaterThan(0)
    expect(count(db, "SELECT COUNT(*) AS n FROM pi_jobs WHERE status = 'succeeded'")).toBe(2)
  }, 120_000)

  it("refuses a negative --sweep", async () => {
    const run = await runCli(["worker", "--db", tempDatabase(), "--sweep", "-1"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("--sweep")
  }, 120_000)
})
