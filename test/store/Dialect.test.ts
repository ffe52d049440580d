import { describe, expect, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import pg from "pg"
import { SqlError } from "@effect/sql/SqlError"
import { isTransient } from "../../src/store/Dialect.js"
import { postgresAdmin, postgresAvailable, tempDatabase } from "../support/Storage.js"

const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (error) {
    return error
  }
  throw new Error("expected a throw")
}

describe("isTransient", () => {
  it("is true for a real SQLite busy error, wrapped as the client wraps it", () => {
    const file = tempDatabase()
    const holder = new Sqlite(file)
    const other = new Sqlite(file, { timeout: 0 })
    holder.exec("CREATE TABLE t (x INTEGER)")
    holder.exec("BEGIN IMMEDIATE")
    const busy = thrown(() => other.exec("BEGIN IMMEDIATE"))
    holder.exec("ROLLBACK")
    expect((busy as { code: string }).code).toBe("SQLITE_BUSY")
    expect(isTransient(new SqlError({ cause: busy, message: "Failed to execute" }))).toBe(true)

    const constraint = thrown(() => holder.exec("CREATE TABLE t (x INTEGER)"))
    expect(isTransient(new SqlError({ cause: constraint, message: "Failed" }))).toBe(false)
    holder.close()
    other.close()
  })

  const pgIt = it.skipIf(!postgresAvailable)
  pgIt("is true for a real Postgres deadlock, false for a unique violation", async () => {
    const a = new pg.Client({ connectionString: postgresAdmin })
    const b = new pg.Client({ connectionString: postgresAdmin })
    await Promise.all([a.connect(), b.connect()])
    const table = `pi_deadlock_${crypto.randomUUID().slice(0, 8)}`
    try {
      await a.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT)`)
      await a.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`)
      await a.query("BEGIN")
      await b.query("BEGIN")
      await a.query(`UPDATE ${table} SET v = 1 WHERE id = 1`)
      await b.query(`UPDATE ${table} SET v = 1 WHERE id = 2`)
      const results = await Promise.allSettled([
        a.query(`UPDATE ${table} SET v = 2 WHERE id = 2`),
        b.query(`UPDATE ${table} SET v = 2 WHERE id = 1`)
      ])
      const deadlock = results.find((r) => r.status === "rejected") as PromiseRejectedResult
      expect(deadlock.reason.code).toBe("40P01")
      expect(isTransient(new SqlError({ cause: deadlock.reason, message: "Failed" }))).toBe(true)
      await a.query("ROLLBACK")
      await b.query("ROLLBACK")

      const duplicate = await a.query(`INSERT INTO ${table} VALUES (1, 0)`).catch((e) => e)
      expect(duplicate.code).toBe("23505")
      expect(isTransient(new SqlError({ cause: duplicate, message: "Failed" }))).toBe(false)
    } finally {
      await a.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
      await Promise.all([a.end(), b.end()])
    }
  })
})
