/**
 * How long `validate` takes over 10,000 profiles of 50 posts each, and how
 * much memory it holds, on a SQLite file and on Postgres. Run from the
 * project root:
 *
 *     npx tsx bench/validate/run.ts [--profiles N] [--posts N] [--runs N]
 *                                   [--only sqlite|postgres] [--keep]
 *
 * Loads a healthy, fully analysed data set with multi-row inserts, then
 * times validate in fresh child processes (one per run) that sample
 * process.memoryUsage() every 5 ms. Writes results.md next to this file.
 * Not a test: nothing here fails on a slow machine. README.md says more.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Logger, LogLevel, Schema } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import pg from "pg"
import { PgStorage } from "../../adapters/postgres/index.js"
import { SqliteStorage } from "../../adapters/sqlite/index.js"
import { aggregate } from "../../src/Aggregate.js"
import {
  AnalysisResult,
  Post,
  PostAnalysis,
  Profile,
  ProfileInsights
} from "../../src/Domain.js"
import { migrate } from "../../src/store/Migrations.js"
import * as Validator from "../../src/Validator.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")
const self = fileURLToPath(import.meta.url)
const log = (line: string) => process.stderr.write(`${line}\n`)

const VERSION = "bench-1"
const PAGE_SIZES = [100, 500] as const

type Spec =
  | { readonly kind: "sqlite"; readonly filename: string }
  | { readonly kind: "postgres"; readonly url: string }

const storageLayer = (spec: Spec) =>
  spec.kind === "sqlite"
    ? SqliteStorage.layer({ filename: spec.filename })
    : PgStorage.layer({ url: spec.url, maxConnections: 4 })

const quiet = Logger.minimumLogLevel(LogLevel.Warning)

// ---------------------------------------------------------------------------
// The child: one validate, timed, with memory sampled

interface Measurement {
  readonly millis: number
  readonly profiles: number
  readonly pages: number
  readonly violations: number
  readonly baselineRss: number
  readonly peakRss: number
  readonly baselineHeap: number
  readonly peakHeap: number
  readonly samples: number
}

const child = (spec: Spec, pageSize: number) =>
  Effect.gen(function* () {
    const validator = yield* Validator.Validator
    // The connection is open and the modules are loaded: the baseline.
    yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`)
    globalThis.gc?.()
    const baseline = process.memoryUsage()
    let peakRss = baseline.rss
    let peakHeap = baseline.heapUsed
    let samples = 0
    const sample = () => {
      const m = process.memoryUsage()
      samples++
      if (m.rss > peakRss) peakRss = m.rss
      if (m.heapUsed > peakHeap) peakHeap = m.heapUsed
    }
    const timer = setInterval(sample, 5)
    const t0 = performance.now()
    const report = yield* validator.validate({ pageSize })
    const millis = performance.now() - t0
    clearInterval(timer)
    sample()
    return {
      millis,
      profiles: report.profiles,
      pages: report.pages,
      violations: report.violations.length,
      baselineRss: baseline.rss,
      peakRss,
      baselineHeap: baseline.heapUsed,
      peakHeap,
      samples
    } satisfies Measurement
  }).pipe(
    Effect.provide(
      Validator.layerWithVersion(VERSION).pipe(
        Layer.provideMerge(storageLayer(spec)),
        Layer.provide(quiet)
      )
    )
  )

const measure = async (spec: Spec, pageSize: number): Promise<Measurement> => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--expose-gc", "--import", "tsx", self, "--child", JSON.stringify({ spec, pageSize })],
    { cwd: root, maxBuffer: 16 * 1024 * 1024 }
  )
  return JSON.parse(stdout.trim().split("\n").pop()!) as Measurement
}

// ---------------------------------------------------------------------------
// The data set

const encodeResult = Schema.encodeSync(Schema.parseJson(AnalysisResult))
const encodeInsights = Schema.encodeSync(Schema.parseJson(ProfileInsights))

const resultFor = (i: number) =>
  new AnalysisResult({
    sentiment: i % 3 === 0
      ? { label: "negative", score: -0.4, reason: null }
      : { label: "positive", score: 0.6, reason: null },
    language: { code: "en", reliable: true },
    topics: [{ topic: i % 2 === 0 ? "food" : "travel", confidence: 0.8 }],
    hashtags: ["bench"],
    mentions: [],
    emoji: [],
    entities: [{ text: "Lisbon", type: "place" }],
    keywords: ["lunch", "sunny", "friends"],
    brandSafety: []
  })

/** One aggregate body, stored for every profile: validate never reads it. */
const sampleBody = (postsPerProfile: number, t0: number) => {
  const profile = new Profile({
    id: "sample",
    owner: "bench",
    platform: "instagram",
    handle: "sample",
    displayName: null,
    bio: null,
    followers: 1000,
    following: 10,
    postCount: postsPerProfile,
    verified: false,
    fetchedAt: new Date(t0)
  })
  const posts = Array.from({ length: postsPerProfile }, (_, i) =>
    new Post({
      id: `p${i}`,
      profileId: "sample",
      platformPostId: `${i}`,
      caption: `post ${i}`,
      hashtags: ["bench"],
      mentions: [],
      mediaType: "image",
      likes: 10 * i,
      comments: i,
      views: null,
      postedAt: new Date(t0 - i * 3_600_000),
      url: null
    })
  )
  const analyses = posts.map((p, i) =>
    new PostAnalysis({
      postId: p.id,
      analyzerId: "bench",
      analyzerVersion: VERSION,
      outcome: { _tag: "Analysed", result: resultFor(i) },
      analyzedAt: new Date(t0 + 1000)
    })
  )
  return encodeInsights(
    aggregate({
      profile,
      posts,
      analyses,
      analyzerId: "bench",
      analyzerVersion: VERSION,
      now: new Date(t0 + 1500)
    })
  )
}

interface Counts {
  readonly profiles: number
  readonly posts: number
}

const ROWS_PER_INSERT = 500
const PROFILES_PER_TRANSACTION = 100

/**
 * A healthy database: every post analysed, every profile with a succeeded
 * job and the aggregate it wrote. Multi-row inserts, 500 rows each, in
 * transactions of 100 profiles.
 */
const load = (counts: Counts) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrate
    const t0 = Date.now() - 86_400_000
    const body = sampleBody(counts.posts, t0)
    const results = Array.from({ length: 6 }, (_, i) => encodeResult(resultFor(i)))
    const insert = (table: string, rows: ReadonlyArray<Record<string, unknown>>) =>
      Effect.forEach(
        Array.from({ length: Math.ceil(rows.length / ROWS_PER_INSERT) }, (_, i) =>
          rows.slice(i * ROWS_PER_INSERT, (i + 1) * ROWS_PER_INSERT)
        ),
        (chunk) => sql`INSERT INTO ${sql(table)} ${sql.insert(chunk)}`,
        { discard: true }
      )
    for (let first = 0; first < counts.profiles; first += PROFILES_PER_TRANSACTION) {
      const profiles: Array<Record<string, unknown>> = []
      const posts: Array<Record<string, unknown>> = []
      const analyses: Array<Record<string, unknown>> = []
      const jobs: Array<Record<string, unknown>> = []
      const aggregates: Array<Record<string, unknown>> = []
      const last = Math.min(counts.profiles, first + PROFILES_PER_TRANSACTION)
      for (let n = first; n < last; n++) {
        const profileId = crypto.randomUUID()
        const jobId = crypto.randomUUID()
        profiles.push({
          id: profileId,
          owner: `owner-${n % 97}`,
          platform: "instagram",
          handle: `bench_${n}`,
          display_name: `Bench ${n}`,
          bio: null,
          followers: 1000 + n,
          following: 100,
          post_count: counts.posts,
          verified: 0,
          fetched_at: t0,
          created_at: t0,
          updated_at: t0
        })
        for (let i = 0; i < counts.posts; i++) {
          const postId = crypto.randomUUID()
          posts.push({
            id: postId,
            profile_id: profileId,
            platform_post_id: `${n}-${i}`,
            caption: `a sunny lunch with friends in Lisbon, post ${i} #bench`,
            hashtags: "[\"bench\"]",
            mentions: "[]",
            media_type: "image",
            likes: 10 * i,
            comments: i,
            views: null,
            posted_at: t0 - i * 3_600_000,
            url: null,
            updated_at: t0
          })
          analyses.push({
            post_id: postId,
            analyzer_version: VERSION,
            analyzer_id: "bench",
            profile_id: profileId,
            job_id: jobId,
            status: "analysed",
            result: results[i % results.length],
            failure: null,
            analyzed_at: t0 + 1000
          })
        }
        jobs.push({
          id: jobId,
          kind: "analyze",
          profile_id: profileId,
          owner: `owner-${n % 97}`,
          status: "succeeded",
          done: counts.posts,
          failed: 0,
          total: counts.posts,
          attempt: 1,
          max_attempts: 5,
          epoch: 1,
          run_after: t0,
          priority: 0,
          created_at: t0,
          updated_at: t0 + 2000,
          finished_at: t0 + 2000
        })
        aggregates.push({
          profile_id: profileId,
          analyzer_id: "bench",
          analyzer_version: VERSION,
          job_id: jobId,
          watermark_count: counts.posts,
          watermark_at: t0 + 1000,
          body,
          computed_at: t0 + 1500
        })
      }
      yield* Effect.all([
        insert("pi_profiles", profiles),
        insert("pi_posts", posts),
        insert("pi_post_analyses", analyses),
        insert("pi_jobs", jobs),
        insert("pi_profile_insights", aggregates)
      ], { discard: true }).pipe(sql.withTransaction)
      if (last % 2000 === 0 || last === counts.profiles) log(`  loaded ${last} profiles`)
    }
    // Statistics, and on Postgres the visibility map index-only scans need,
    // as autovacuum would have left them on a database in use.
    yield* sql.onDialectOrElse({
      pg: () => sql`VACUUM ANALYZE`,
      orElse: () => sql`ANALYZE`
    })
  })

/** Breaks 1% of the profiles: their aggregates are deleted. */
const corrupt = (counts: Counts) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`DELETE FROM pi_profile_insights WHERE profile_id IN (
      SELECT id FROM pi_profiles ORDER BY id LIMIT ${Math.ceil(counts.profiles / 100)})`
  )

const withStorage = <A, E>(spec: Spec, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.runPromise(
    effect.pipe(Effect.provide(storageLayer(spec).pipe(Layer.provide(quiet))), Effect.orDie)
  )

const databaseSize = async (spec: Spec): Promise<number> => {
  if (spec.kind === "sqlite") {
    return [spec.filename, `${spec.filename}-wal`]
      .filter((f) => fs.existsSync(f))
      .reduce((n, f) => n + fs.statSync(f).size, 0)
  }
  const client = new pg.Client({ connectionString: spec.url })
  await client.connect()
  try {
    const { rows } = await client.query<{ size: string }>(
      "SELECT pg_database_size(current_database()) AS size"
    )
    return Number(rows[0]!.size)
  } finally {
    await client.end()
  }
}

// ---------------------------------------------------------------------------
// The parent

const admin = process.env.PROFILE_INSIGHTS_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/postgres"

const withAdmin = async <A>(f: (c: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}

interface Row {
  readonly store: string
  readonly pageSize: number
  readonly violations: number
  readonly runs: ReadonlyArray<Measurement>
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const render = (
  counts: Counts,
  rows: ReadonlyArray<Row>,
  loads: ReadonlyArray<{ store: string; seconds: number; bytes: number }>,
  machine: string,
  seconds: number
) => {
  const lines = [
    "# validate: time and memory",
    "",
    "Written by `npx tsx bench/validate/run.ts`; do not edit by hand. README.md says",
    "what each figure measures.",
    "",
    `${new Date().toISOString()}: ${machine}; the run took ${seconds.toFixed(0)} s.`,
    "",
    `Data set: ${counts.profiles.toLocaleString("en")} profiles × ${counts.posts} posts = ` +
      `${(counts.profiles * counts.posts).toLocaleString("en")} posts and as many analyses, ` +
      `${counts.profiles.toLocaleString("en")} succeeded jobs and aggregates.`,
    "",
    "| Store | Load | Size on disk |",
    "|---|---|---|",
    ...loads.map((l) => `| ${l.store} | ${l.seconds.toFixed(1)} s | ${mib(l.bytes)} |`),
    "",
    "Each row: median time of the runs (min–max), peak RSS and heap used across",
    "the runs, and the peak above the process's baseline (connection open,",
    "modules loaded, after a GC).",
    "",
    "| Store | Page size | Pages | Violations | validate (median) | min–max | Peak RSS | RSS above baseline | Peak heap used | Heap above baseline |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => {
      const ms = r.runs.map((m) => m.millis)
      const peakRss = Math.max(...r.runs.map((m) => m.peakRss))
      const peakHeap = Math.max(...r.runs.map((m) => m.peakHeap))
      const rssAbove = Math.max(...r.runs.map((m) => m.peakRss - m.baselineRss))
      const heapAbove = Math.max(...r.runs.map((m) => m.peakHeap - m.baselineHeap))
      return `| ${r.store} | ${r.pageSize} | ${r.runs[0]!.pages} | ${r.violations} | ` +
        `${(median(ms) / 1000).toFixed(2)} s | ${(Math.min(...ms) / 1000).toFixed(2)}–` +
        `${(Math.max(...ms) / 1000).toFixed(2)} s | ${mib(peakRss)} | ${mib(rssAbove)} | ` +
        `${mib(peakHeap)} | ${mib(heapAbove)} |`
    }),
    ""
  ]
  return lines.join("\n")
}

const main = async () => {
  const began = performance.now()
  const counts: Counts = {
    profiles: Number(argument("profiles") ?? 10_000),
    posts: Number(argument("posts") ?? 50)
  }
  const runs = Number(argument("runs") ?? 3)
  const only = argument("only")
  const loadAverage = os.loadavg().map((x) => x.toFixed(2)).join(" / ")

  const stores: Array<{ name: string; spec: Spec; drop: () => Promise<void> }> = []
  if (only !== "postgres") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pi-bench-validate-"))
    stores.push({
      name: "SQLite (file, WAL)",
      spec: { kind: "sqlite", filename: path.join(dir, "validate.db") },
      drop: async () => fs.rmSync(dir, { recursive: true, force: true })
    })
  }
  if (only !== "sqlite") {
    const name = `pi_bench_validate_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`
    await withAdmin((c) => c.query(`CREATE DATABASE ${name}`))
    const url = new URL(admin)
    url.pathname = `/${name}`
    stores.push({
      name: "Postgres",
      spec: { kind: "postgres", url: url.toString() },
      drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined)
    })
  }

  const rows: Array<Row> = []
  const loads: Array<{ store: string; seconds: number; bytes: number }> = []
  try {
    for (const store of stores) {
      log(`${store.name}: loading ${counts.profiles} profiles × ${counts.posts} posts`)
      const t0 = performance.now()
      await withStorage(store.spec, load(counts))
      const seconds = (performance.now() - t0) / 1000
      loads.push({ store: store.name, seconds, bytes: await databaseSize(store.spec) })
      log(`${store.name}: loaded in ${seconds.toFixed(1)} s`)
      for (const pageSize of PAGE_SIZES) {
        const measured: Array<Measurement> = []
        for (let run = 0; run < runs; run++) {
          const m = await measure(store.spec, pageSize)
          log(`${store.name}, page size ${pageSize}: ${(m.millis / 1000).toFixed(2)} s, ` +
            `peak RSS ${mib(m.peakRss)}, ${m.violations} violations`)
          measured.push(m)
        }
        rows.push({ store: store.name, pageSize, violations: measured[0]!.violations, runs: measured })
      }
      await withStorage(store.spec, corrupt(counts))
      const broken = await measure(store.spec, PAGE_SIZES[0])
      log(`${store.name}, 1% broken: ${(broken.millis / 1000).toFixed(2)} s, ${broken.violations} violations`)
      rows.push({ store: `${store.name}, 1% without aggregate`, pageSize: PAGE_SIZES[0], violations: broken.violations, runs: [broken] })
    }
  } finally {
    if (process.argv.includes("--keep")) {
      log(`kept: ${stores.map((s) => JSON.stringify(s.spec)).join(", ")}`)
    } else {
      for (const store of stores) await store.drop()
    }
  }

  const cpus = os.cpus()
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? "CPU"}, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; ` +
    `load average ${loadAverage} at the start (1 / 5 / 15 min)`
  const seconds = (performance.now() - began) / 1000
  fs.writeFileSync(path.join(here, "results.md"), render(counts, rows, loads, machine, seconds))
  log(`wrote ${path.join(here, "results.md")}`)
}

if (process.argv.includes("--child")) {
  const { spec, pageSize } = JSON.parse(argument("child")!) as { spec: Spec; pageSize: number }
  Effect.runPromise(child(spec, pageSize)).then(
    (m) => process.stdout.write(`${JSON.stringify(m)}\n`),
    (e) => {
      process.stderr.write(`${String(e)}\n`)
      process.exitCode = 1
    }
  )
} else {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exitCode = 1
  })
}
