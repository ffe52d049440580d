/**
 * How every subcommand of the profile-insights command ends when it cannot
 * do its work: one line on stderr and exit 1 for a database it cannot
 * open, exit 2 for a --db or an option that is not valid, never a stack.
 * Each run is a real child process.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import * as Storage from "../../examples/cli/Storage.js"
import { root, type Run, runCli } from "../support/Cli.js"
import { postgresAdmin, postgresAvailable, tempDatabase } from "../support/Storage.js"

const sample = resolve(root, "examples/data/sample-profile.json")

/** The arguments of each subcommand, but for --db. */
const subcommands: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["analyze", ["analyze", sample]],
  ["worker", ["worker"]],
  ["health", ["health"]],
  ["validate", ["validate"]],
  ["repair", ["repair", "--wait"]]
]

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Exactly the line of a database that cannot be opened, and nothing else. */
const lineFor = (db: string, reason: string) =>
  new RegExp(`^profile-insights: cannot open ${escape(db)}: ${escape(reason)}\n$`)

const expectCannotOpen = (run: Run, db: string, reason: string) => {
  expect({ db, code: run.code, stdout: run.stdout }).toEqual({ db, code: 1, stdout: "" })
  expect(run.stderr).toMatch(lineFor(db, reason))
}

const typo = {
  db: "postgress://me:hunter2@127.0.0.1/x",
  line: "profile-insights: command line: --db: unsupported scheme \"postgress:\" in " +
    "\"postgress://me:***@127.0.0.1/x\"; expected a SQLite file path, a file:// URL, " +
    "or a postgres:// or postgresql:// URL\n"
}

describe("every subcommand", () => {
  it.each(subcommands)(
    "%s: a database it cannot open exits 1, a --db with a typo'd scheme 2, each in one line",
    async (_, args) => {
      const cwd = dirname(tempDatabase())
      const [onDirectory, onPostgres, onTypo] = await Promise.all([
        runCli([...args, "--db", cwd]),
        runCli([...args, "--db", "postgres://postgres:secret@127.0.0.1:1/x"]),
        runCli([...args, "--db", typo.db], { cwd })
      ])
      expectCannotOpen(onDirectory, cwd, "it is a directory")
      expectCannotOpen(
        onPostgres,
        "postgres://postgres:***@127.0.0.1:1/x",
        "connect ECONNREFUSED 127.0.0.1:1"
      )
      expect(onTypo).toEqual({ code: 2, stdout: "", stderr: typo.line })
      // Nothing was created under the name the user mistyped.
      expect(readdirSync(cwd)).toEqual([])
    }
  )
})

describe("a database the command cannot open", () => {
  it("says why: not SQLite, no such Postgres database, a directory it cannot create", async () => {
    const garbage = tempDatabase()
    mkdirSync(dirname(garbage), { recursive: true })
    writeFileSync(garbage, "these are not the bytes of a SQLite database\n".repeat(200))
    const missing = new URL(postgresAdmin)
    missing.pathname = "/pi_no_such_database"
    const cases = [
      { db: garbage, reason: "file is not a database" },
      {
        db: "/proc/no-such-dir/insights.db",
        reason: "ENOENT: no such file or directory, mkdir '/proc/no-such-dir'"
      },
      ...postgresAvailable
        ? [{ db: missing.toString(), reason: "database \"pi_no_such_database\" does not exist" }]
        : []
    ]
    const runs = await Promise.all(cases.map(({ db }) => runCli(["health", "--db", db])))
    runs.forEach((run, i) =>
      expectCannotOpen(run, Storage.redact(cases[i]!.db), cases[i]!.reason)
    )
  })
})

describe("a --db that is not a database setting", () => {
  it("refuses sqlite:// and file: without a path it can read, creating nothing", async () => {
    const cwd = dirname(tempDatabase())
    const refused = ["sqlite://data/insights.db", "file:insights.db", "file://host/insights.db"]
    const runs = await Promise.all(refused.map((db) => runCli(["health", "--db", db], { cwd })))
    runs.forEach((run, i) => {
      expect({ db: refused[i], code: run.code }).toEqual({ db: refused[i], code: 2 })
      expect(run.stderr).toMatch(/^profile-insights: command line: --db: [^\n]+\n$/)
      expect(run.stderr).toContain(Storage.accepted)
    })
    expect(readdirSync(cwd)).toEqual([])
  })

  it("takes a file:// URL as the SQLite file it names", async () => {
    const file = join(dirname(tempDatabase()), "via url.db")
    const run = await runCli(["health", "--db", `file://${file.replaceAll(" ", "%20")}`])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^Health at /)
    expect(existsSync(file)).toBe(true)
  })
})

describe("a command line @effect/cli refuses", () => {
  it("exits 2 with its message and no log line or stack", async () => {
    const cases = [
      { args: ["health", "--window", "abc"], message: "'abc' is not a integer" },
      { args: ["health", "--bogus"], message: "Received unknown argument: '--bogus'" },
      { args: ["no-such-command"], message: "Invalid subcommand for profile-insights" }
    ]
    const runs = await Promise.all(cases.map(({ args }) => runCli(args)))
    runs.forEach((run, i) => {
      expect({ args: cases[i]!.args, code: run.code }).toEqual({ args: cases[i]!.args, code: 2 })
      expect(run.stderr).toContain(cases[i]!.message)
      expect(run.stderr).not.toMatch(/level=|timestamp=|\bat .*:\d+:\d+/)
    })
  })
})

describe("a malformed PROFILE_INSIGHTS_* variable", () => {
  it("exits 2 with one line naming it", async () => {
    const run = await runCli(
      ["analyze", sample, "--db", tempDatabase(), "--analyzer", "openai"],
      { env: { PROFILE_INSIGHTS_OPENAI_TIMEOUT: "soon" } }
    )
    expect(run.code).toBe(2)
    const lines = run.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^profile-insights: .*PROFILE_INSIGHTS_OPENAI_TIMEOUT/)
  })
})
