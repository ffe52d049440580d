/**
 * The checkpoint's SQL through the bare drivers (pg, better-sqlite3), with
 * the result document prebuilt: the floor under the store for its
 * statement design (kept in step with JobStore.checkpointMany by hand),
 * and, on Postgres, what other designs would allow.
 * Writes into the bench database's own tables, under job rows of its own
 * that no runner can claim.
 */
import Database from "better-sqlite3"
import pg from "pg"
import { median } from "./Harness.js"
import * as NoopAnalyzer from "./NoopAnalyzer.js"
import { settings } from "./Settings.js"

export interface DesignResult {
  readonly design: string
  /** Round trips per transaction, BEGIN and COMMIT included. */
  readonly roundTrips: number
  readonly postsPerTransaction: number
  /** Posts per second, by concurrency. */
  readonly rates: Record<string, number>
}

export interface DriverResult {
  /** Median milliseconds of SELECT 1. */
  readonly roundTrip: number
  /** CPU milliseconds this process spends per SELECT 1, on average. */
  readonly roundTripCpu: number
  readonly designs: ReadonlyArray<DesignResult>
}

const body = JSON.stringify(NoopAnalyzer.result)

const jobRow = (id: string, kind: string, now: number) => [id, kind, `driver-${id}`, now]
const insertJob = `INSERT INTO pi_jobs (id, kind, profile_id, owner, status,
  max_attempts, run_after, epoch, created_at, updated_at)
  VALUES ($1, $2, $3, 'driver', 'running', 5, $4, 1, $4, $4)`

interface PgDesign {
  readonly design: string
  readonly roundTrips: number
  readonly postsPerTransaction: number
  readonly write: (client: pg.PoolClient, jobId: string, postIds: ReadonlyArray<string>) => Promise<void>
}

const insertAnalyses = (client: pg.PoolClient, jobId: string, postIds: ReadonlyArray<string>) => {
  const values: Array<unknown> = []
  const rows = postIds.map((postId, i) => {
    values.push(postId, jobId, body, Date.now())
    const p = i * 4
    return `($${p + 1}, 'driver', 'driver', 'driver', $${p + 2}, 'analysed', $${p + 3}, NULL, $${p + 4})`
  })
  return client.query(
    `INSERT INTO pi_post_analyses (post_id, analyzer_version, analyzer_id,
     profile_id, job_id, status, result, failure, analyzed_at)
     VALUES ${rows.join(", ")} ON CONFLICT DO NOTHING RETURNING post_id`,
    values
  )
}

/**
 * The store's checkpoint: the analyses, then the job's counter under the
 * fence (epoch and status), then the notification, in one transaction.
 */
const insertThenFence = (options: { notify: boolean; asyncCommit: boolean }) =>
  async (client: pg.PoolClient, jobId: string, postIds: ReadonlyArray<string>) => {
    await client.query("BEGIN")
    if (options.asyncCommit) await client.query("SET LOCAL synchronous_commit = off")
    const inserted = await insertAnalyses(client, jobId, postIds)
    const fenced = await client.query(
      `UPDATE pi_jobs SET done = done + $1, updated_at = $2
       WHERE id = $3 AND epoch = 1 AND status = 'running' RETURNING id`,
      [inserted.rowCount, Date.now(), jobId]
    )
    if (fenced.rowCount !== 1) throw new Error("lease lost")
    if (options.notify) {
      await client.query("SELECT pg_notify($1, $2)", ["profile_insights_progress", jobId])
    }
    await client.query("COMMIT")
  }

/**
 * The same writes as one statement: the fence locks the job row (and
 * re-checks the epoch after any concurrent claim commits), the insert and
 * the counter happen only under it, the notification goes with it.
 */
const oneStatement = async (client: pg.PoolClient, jobId: string, postIds: ReadonlyArray<string>) => {
  const r = await client.query(
    `WITH fence AS (
       SELECT id FROM pi_jobs WHERE id = $1 AND epoch = 1 AND status = 'running'
       FOR UPDATE),
     ins AS (
       INSERT INTO pi_post_analyses (post_id, analyzer_version, analyzer_id,
         profile_id, job_id, status, result, failure, analyzed_at)
       SELECT $2, 'driver', 'driver', 'driver', $1, 'analysed', $3, NULL, $4
       FROM fence ON CONFLICT DO NOTHING RETURNING status),
     counter AS (
       UPDATE pi_jobs SET updated_at = $4,
         done = done + (SELECT count(*) FROM ins WHERE status = 'analysed'),
         failed = failed + (SELECT count(*) FROM ins WHERE status = 'failed')
       WHERE id IN (SELECT id FROM fence) RETURNING id),
     notified AS (
       SELECT pg_notify('profile_insights_progress', $1) FROM fence)
     SELECT (SELECT count(*) FROM fence) AS held,
       (SELECT count(*) FROM counter) + (SELECT count(*) FROM notified) AS written`,
    [jobId, postIds[0], body, Date.now()]
  )
  if (Number(r.rows[0].held) !== 1) throw new Error("lease lost")
}

const pgDesigns: ReadonlyArray<PgDesign> = [
  {
    design: "insert, fenced counter, pg_notify (the store's order)",
    roundTrips: 5,
    postsPerTransaction: 1,
    write: insertThenFence({ notify: true, asyncCommit: false })
  },
  {
    design: "the same without pg_notify",
    roundTrips: 4,
    postsPerTransaction: 1,
    write: insertThenFence({ notify: false, asyncCommit: false })
  },
  {
    design: "the same with synchronous_commit off",
    roundTrips: 6,
    postsPerTransaction: 1,
    write: insertThenFence({ notify: true, asyncCommit: true })
  },
  { design: "one statement (CTE)", roundTrips: 1, postsPerTransaction: 1, write: oneStatement },
  {
    design: "the store's order, 16 posts per transaction",
    roundTrips: 5,
    postsPerTransaction: 16,
    write: insertThenFence({ notify: true, asyncCommit: false })
  }
]

export const postgres = async (url: string): Promise<DriverResult> => {
  // The library's default pool size.
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  try {
    const rtt: Array<number> = []
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < settings.roundTrips; i++) {
      const t0 = performance.now()
      await pool.query("SELECT 1")
      rtt.push(performance.now() - t0)
    }
    const cpu = process.cpuUsage(cpu0)
    const designs: Array<DesignResult> = []
    for (const [d, design] of pgDesigns.entries()) {
      const rates: Record<string, number> = {}
      for (const concurrency of settings.concurrencies) {
        const jobId = crypto.randomUUID()
        await pool.query(insertJob, jobRow(jobId, `driver-${d}-${concurrency}`, Date.now()))
        const posts = settings.checkpointPosts * Math.min(design.postsPerTransaction, 4)
        const chunks: Array<Array<string>> = []
        for (let i = 0; i < posts; i += design.postsPerTransaction) {
          chunks.push(Array.from({ length: design.postsPerTransaction }, () => crypto.randomUUID()))
        }
        let next = 0
        const t0 = performance.now()
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < chunks.length) {
              const chunk = chunks[next++]!
              const client = await pool.connect()
              try {
                await design.write(client, jobId, chunk)
              } finally {
                client.release()
              }
            }
          })
        )
        rates[concurrency] = (chunks.length * design.postsPerTransaction) /
          ((performance.now() - t0) / 1000)
        await pool.query("UPDATE pi_jobs SET status = 'succeeded' WHERE id = $1", [jobId])
      }
      designs.push({
        design: design.design,
        roundTrips: design.roundTrips,
        postsPerTransaction: design.postsPerTransaction,
        rates
      })
    }
    return {
      roundTrip: median(rtt),
      roundTripCpu: (cpu.user + cpu.system) / 1000 / settings.roundTrips,
      designs
    }
  } finally {
    await pool.end()
  }
}

/** JobStore.checkpoint's statements on one connection, as better-sqlite3 runs them: synchronously. */
export const sqlite = (filename: string): DriverResult => {
  const db = new Database(filename)
  try {
    db.pragma("busy_timeout = 10000")
    db.pragma("synchronous = NORMAL")
    const select = db.prepare("SELECT 1")
    const rtt: Array<number> = []
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < settings.roundTrips; i++) {
      const t0 = performance.now()
      select.all()
      rtt.push(performance.now() - t0)
    }
    const cpu = process.cpuUsage(cpu0)
    const jobId = crypto.randomUUID()
    db.prepare(insertJob.replace(/\$\d/g, "?")).run(jobId, "driver", `driver-${jobId}`, Date.now(), Date.now(), Date.now())
    const begin = db.prepare("BEGIN IMMEDIATE")
    const insert = db.prepare(
      `INSERT INTO pi_post_analyses (post_id, analyzer_version, analyzer_id,
       profile_id, job_id, status, result, failure, analyzed_at)
       VALUES (?, 'driver', 'driver', 'driver', ?, 'analysed', ?, NULL, ?)
       ON CONFLICT DO NOTHING RETURNING post_id`
    )
    const fenced = db.prepare(
      `UPDATE pi_jobs SET done = done + ?, updated_at = ? WHERE id = ?
       AND epoch = 1 AND status = 'running' RETURNING id`
    )
    const commit = db.prepare("COMMIT")
    const posts = settings.checkpointPosts * 4
    const t0 = performance.now()
    for (let i = 0; i < posts; i++) {
      begin.run()
      const inserted = insert.all(crypto.randomUUID(), jobId, body, Date.now()).length
      if (fenced.all(inserted, Date.now(), jobId).length !== 1) throw new Error("lease lost")
      commit.run()
    }
    const rate = posts / ((performance.now() - t0) / 1000)
    db.prepare("UPDATE pi_jobs SET status = 'succeeded' WHERE id = ?").run(jobId)
    return {
      roundTrip: median(rtt),
      roundTripCpu: (cpu.user + cpu.system) / 1000 / settings.roundTrips,
      designs: [{
        design: "insert, fenced counter (the store's order)",
        roundTrips: 4,
        postsPerTransaction: 1,
        rates: { 1: rate }
      }]
    }
  } finally {
    db.close()
  }
}
