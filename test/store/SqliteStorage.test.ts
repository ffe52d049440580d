/**
 * The SQLite adapter's layer on a file it cannot open fails with a
 * SqlError that says why, instead of dying with the driver's exception;
 * on a path whose directories are missing it creates them.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer } from "effect"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { SqliteStorage } from "../../adapters/sqlite/index.js"
import { tempDatabase } from "../support/Storage.js"

/** How building the layer over `filename` ends, with its failure's messages. */
const open = (filename: string) =>
  Layer.build(SqliteStorage.layer({ filename })).pipe(
    Effect.scoped,
    Effect.exit,
    Effect.map((exit) =>
      Exit.match(exit, {
        onSuccess: () => ({ opened: true }),
        onFailure: (cause) => ({
          opened: false,
          failures: Array.from(Cause.failures(cause), (e) => ({
            tag: e._tag,
            message: e.message,
            cause: ((e as { cause?: Error }).cause)?.message
          })),
          defects: Array.from(Cause.defects(cause)).length
        })
      })
    )
  )

describe("SqliteStorage.layer", () => {
  it.effect("fails with a SqlError on a directory, a file that is not SQLite, or /proc", () =>
    Effect.gen(function* () {
      const directory = dirname(tempDatabase())
      mkdirSync(directory, { recursive: true })
      const garbage = join(directory, "garbage.db")
      writeFileSync(garbage, "not a database ".repeat(100))
      expect(yield* open(directory)).toEqual({
        opened: false,
        failures: [
          { tag: "SqlError", message: `cannot open ${directory}`, cause: "it is a directory" }
        ],
        defects: 0
      })
      expect(yield* open(garbage)).toEqual({
        opened: false,
        failures: [
          { tag: "SqlError", message: `cannot open ${garbage}`, cause: "file is not a database" }
        ],
        defects: 0
      })
      // Node 20's recursive mkdir never returns for this path.
      expect(yield* open("/proc/no-such-dir/x.db")).toEqual({
        opened: false,
        failures: [{
          tag: "SqlError",
          message: "cannot open /proc/no-such-dir/x.db",
          cause: "ENOENT: no such file or directory, mkdir '/proc/no-such-dir'"
        }],
        defects: 0
      })
    }))

  it.effect("creates the missing directories of a new file", () =>
    Effect.gen(function* () {
      const filename = join(dirname(tempDatabase()), "a", "b", "c.db")
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1 AS one`).pipe(
        Effect.provide(SqliteStorage.layer({ filename }))
      )
      expect(rows).toEqual([{ one: 1 }])
      expect(existsSync(filename)).toBe(true)
    }))
})
