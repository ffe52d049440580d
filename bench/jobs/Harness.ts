/**
 * What every job benchmark needs: a fresh database per store, the library
 * over it with a stamping no-op analyzer, profiles to submit, statistics
 * and CPU accounting.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { type ConfigError, Deferred, type Duration, Effect, Layer, Logger, LogLevel } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { PgStorage } from "../../adapters/postgres/index.js"
import { SqliteStorage } from "../../adapters/sqlite/index.js"
import { type Analyzer, Insights, type Job, isTerminal } from "../../src/index.js"
import * as NoopAnalyzer from "./NoopAnalyzer.js"

export const owner = "bench"

// ---------------------------------------------------------------------------
// Stores

export interface SqliteSpec {
  readonly kind: "sqlite"
  readonly filename: string
}

export interface PostgresSpec {
  readonly kind: "postgres"
  readonly url: string
  readonly database: string
}

export type StorageSpec = SqliteSpec | PostgresSpec

export interface StoreOf<S extends StorageSpec> {
  readonly name: S["kind"]
  readonly spec: S
  readonly layer: Layer.Layer<SqlClient.SqlClient, SqlError | ConfigError.ConfigError>
}

export type Store = StoreOf<SqliteSpec> | StoreOf<PostgresSpec>

export const storageLayer = (spec: StorageSpec) =>
  spec.kind === "sqlite"
    ? SqliteStorage.layer({ filename: spec.filename })
    : PgStorage.layer({ url: spec.url })

export const pgAdmin =
  process.env.PROFILE_INSIGHTS_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/postgres"

export const withAdmin = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: pgAdmin })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

const storeOf = <S extends StorageSpec>(spec: S): StoreOf<S> => ({
  name: spec.kind,
  spec,
  layer: storageLayer(spec)
})

const createPostgres = async () => {
  const database = `pi_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
  await withAdmin((c) => c.query(`CREATE DATABASE ${database}`))
  const url = new URL(pgAdmin)
  url.pathname = `/${database}`
  return storeOf<PostgresSpec>({ kind: "postgres", url: url.toString(), database })
}

const createSqlite = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "profile-insights-bench-"))
  return storeOf<SqliteSpec>({ kind: "sqlite", filename: path.join(dir, "bench.db") })
}

const drop = async (store: Store) => {
  if (store.spec.kind === "postgres") {
    const database = store.spec.database
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  } else {
    fs.rmSync(path.dirname(store.spec.filename), { recursive: true, force: true })
  }
}

/** A fresh, empty Postgres database, dropped with the scope. */
export const freshPostgres = Effect.acquireRelease(
  Effect.promise(createPostgres),
  (store) => Effect.promise(() => drop(store))
)

/** A fresh SQLite file in a temporary directory, removed with the scope. */
export const freshSqlite = Effect.acquireRelease(
  Effect.sync(createSqlite),
  (store) => Effect.promise(() => drop(store))
)

// ---------------------------------------------------------------------------
// The library, with an analyzer that stamps its calls

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const wallClock = () => performance.timeOrigin + performance.now()

/**
 * A no-op analyzer recording when it is called: every call's time
 * (performance.now()), and the first call for a profile someone waits on.
 */
export const makeProbe = () => {
  const waiting = new Map<string, Deferred.Deferred<number>>()
  let calls: Array<number> = []
  const layer = NoopAnalyzer.layer((post) =>
    Effect.suspend(() => {
      const at = performance.now()
      calls.push(at)
      const deferred = waiting.get(post.profileId)
      if (deferred === undefined) return Effect.void
      waiting.delete(post.profileId)
      return Deferred.succeed(deferred, at)
    })
  )
  return {
    layer,
    /** Resolves with the time of the first call for the profile. */
    expect: (profileId: string) =>
      Effect.tap(Deferred.make<number>(), (d) =>
        Effect.sync(() => waiting.set(profileId, d))
      ),
    resetCalls: () => {
      calls = []
    },
    calls: () => calls
  }
}

/**
 * The library over the store, logging at Warning: with a runner of the
 * given settings, or without one.
 */
export const library = (
  store: Store,
  analyzer: Layer.Layer<Analyzer>,
  runner: { readonly postConcurrency?: number } | "no runner"
) =>
  (runner === "no runner" ? Insights.layerWithoutRunner : Insights.layer(runner)).pipe(
    Layer.provide(analyzer),
    Layer.provide(store.layer),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )

export const profileContent = (handle: string, posts: number) => ({
  profile: {
    platform: "instagram",
    handle,
    displayName: handle,
    followers: 1000,
    fetchedAt: "2026-01-10T12:00:00.000Z"
  },
  posts: Array.from({ length: posts }, (_, i) => ({
    platformPostId: `${handle}-${i + 1}`,
    caption: `post ${i + 1} of ${handle} #bench`,
    mediaType: "image",
    likes: 10 + i,
    comments: i % 7,
    postedAt: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString()
  }))
})

/** Imports `count` profiles of `posts` posts each; their ids. */
export const importProfiles = (
  api: Insights.InsightsShape,
  prefix: string,
  count: number,
  posts: number
) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => `${prefix}-${i}`),
    (handle) =>
      Effect.map(
        api.importProfile(owner, profileContent(handle, posts)),
        (saved) => saved.profile.id
      )
  )

/**
 * Reads the job every `interval` until it is finished; dies unless it
 * succeeded. A plain poll rather than Insights.watch, which on Postgres
 * reads the job once per progress notification.
 */
export const awaitDone = (
  api: Insights.InsightsShape,
  jobId: string,
  interval: Duration.DurationInput
) => {
  const poll: Effect.Effect<Job, unknown> = Effect.flatMap(
    api.status(owner, jobId),
    (job) => isTerminal(job.status) ? Effect.succeed(job) : Effect.delay(poll, interval)
  )
  return poll.pipe(
    Effect.timeoutFail({
      duration: "120 seconds",
      onTimeout: () => new Error(`job ${jobId} did not finish within 120 s`)
    }),
    Effect.filterOrDieMessage(
      (job) => job.status === "succeeded",
      `job ${jobId} did not succeed`
    )
  )
}

/**
 * Statements and COMMITs sent to Postgres by this process so far: every
 * query of pg's Client is counted, those of @effect/sql-pg too (it drives
 * pg's Client). Counting starts at the first call.
 */
export const pgQueries = (() => {
  const count = { statements: 0, commits: 0 }
  let installed = false
  return (): { readonly statements: number; readonly commits: number } => {
    if (!installed) {
      installed = true
      const query = pg.Client.prototype.query as (...args: Array<unknown>) => unknown
      pg.Client.prototype.query = function (this: pg.Client, ...args: Array<unknown>) {
        count.statements++
        if (typeof args[0] === "string" && /^\s*COMMIT/i.test(args[0])) count.commits++
        return query.apply(this, args)
      } as typeof pg.Client.prototype.query
    }
    return { ...count }
  }
})()

export const timeIt = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const value = yield* effect
    return [performance.now() - t0, value] as const
  })

// ---------------------------------------------------------------------------
// Statistics

/** Nearest-rank percentile. */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN
}

export const median = (xs: ReadonlyArray<number>) => percentile(xs, 50)

export const summary = (xs: ReadonlyArray<number>) => ({
  samples: xs.length,
  p50: percentile(xs, 50),
  p90: percentile(xs, 90),
  p99: percentile(xs, 99),
  max: Math.max(...xs),
  mean: xs.reduce((a, b) => a + b, 0) / xs.length
})
export type Summary = ReturnType<typeof summary>

// ---------------------------------------------------------------------------
// CPU accounting: this process, and the Postgres backends of one database

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU milliseconds used so far by the live backends connected to `database`. */
const postgresCpu = (database: string): number => {
  let ticks = 0
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")
      if (!cmdline.startsWith("postgres:") || !cmdline.includes(` ${database} `)) continue
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // the process ended between listing and reading
    }
  }
  return (ticks * 1000) / clockTicks
}

/** Starts counting; the returned function reads CPU milliseconds used since. */
export const cpuMeter = (store: Store) => {
  const database = store.spec.kind === "postgres" ? store.spec.database : undefined
  const node0 = process.cpuUsage()
  const db0 = database === undefined ? 0 : postgresCpu(database)
  return () => {
    const node = process.cpuUsage(node0)
    return {
      node: (node.user + node.system) / 1000,
      postgres: database === undefined ? 0 : postgresCpu(database) - db0
    }
  }
}
