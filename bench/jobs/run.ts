/**
 * Pickup latency and throughput of the job runner, on Postgres and SQLite
 * side by side, against fixed targets. Run from the project root:
 *
 *     npx tsx bench/jobs/run.ts
 *
 * Creates a fresh Postgres database on PROFILE_INSIGHTS_BENCH_PG (default
 * postgres://postgres@127.0.0.1:5432/postgres) and a SQLite file in a
 * temporary directory, drops both at the end, and writes results.md and
 * results.json next to this file. README.md describes each figure.
 */
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Breakdown from "./Breakdown.js"
import * as Costs from "./Costs.js"
import * as DriverCheckpoint from "./DriverCheckpoint.js"
import { freshPostgres, freshSqlite, type Store, withAdmin } from "./Harness.js"
import * as Pickup from "./Pickup.js"
import { type Machine, render, type Results } from "./Report.js"
import { settings, targets } from "./Settings.js"
import * as Throughput from "./Throughput.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")

const log = (line: string) => process.stderr.write(`${line}\n`)

const load = () => os.loadavg().map((x) => Number(x.toFixed(2)))

const machine = async (loadAtStart: ReadonlyArray<number>): Promise<Machine> => {
  const pg = await withAdmin((c) =>
    c.query(`SELECT name, setting FROM pg_settings WHERE name IN
      ('server_version', 'fsync', 'synchronous_commit', 'wal_sync_method')`)
  )
  const pgSettings: Record<string, string> = Object.fromEntries(
    pg.rows.map((row: { name: string; setting: string }) => [row.name, row.setting])
  )
  const db = new Database(":memory:")
  const sqlite = (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v
  db.close()
  const effect = JSON.parse(
    fs.readFileSync(path.join(root, "node_modules/effect/package.json"), "utf8")
  ) as { version: string }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    node: process.version,
    effect: effect.version,
    postgres: pgSettings.server_version ?? "unknown",
    postgresSettings: pgSettings,
    sqlite,
    loadAverage: { start: loadAtStart, end: load() }
  }
}

/** Runs a phase, logging its name and duration to stderr. */
const phase = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    log(`${name} ...`)
    const t0 = performance.now()
    const value = yield* effect
    log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    return value
  })

const main = Effect.gen(function* () {
  const loadAtStart = load()
  const began = performance.now()
  const sqlite = yield* freshSqlite
  const postgres = yield* freshPostgres
  const stores: ReadonlyArray<Store> = [sqlite, postgres]

  const pickup: Array<Pickup.PickupResult> = []
  for (const store of stores) {
    pickup.push(yield* phase(`pickup, in-process, ${store.name}`, Pickup.inProcess(store)))
  }
  pickup.push(
    yield* phase(
      "pickup, cross-process, postgres",
      Pickup.crossProcess(postgres, settings.pickupSamples, settings.pickupWarmup)
    )
  )
  pickup.push(
    yield* phase(
      "pickup, cross-process, sqlite",
      Pickup.crossProcess(
        sqlite,
        settings.sqliteCrossProcessSamples,
        settings.sqliteCrossProcessWarmup
      )
    )
  )

  const throughput: Array<Throughput.ThroughputResult> = []
  for (const store of stores) {
    for (const concurrency of settings.concurrencies) {
      throughput.push(
        yield* phase(
          `throughput, ${store.name}, concurrency ${concurrency}`,
          Throughput.run(store, concurrency)
        )
      )
    }
  }

  const breakdown = {
    sqlite: yield* phase("store operations, sqlite", Breakdown.run(sqlite)),
    postgres: yield* phase("store operations, postgres", Breakdown.run(postgres))
  }
  const driver = {
    sqlite: yield* phase(
      "bare driver, sqlite",
      Effect.sync(() => DriverCheckpoint.sqlite(sqlite.spec.filename))
    ),
    postgres: yield* phase(
      "bare driver, postgres",
      Effect.promise(() => DriverCheckpoint.postgres(postgres.spec.url))
    )
  }
  const costs = yield* phase("CPU costs", Effect.sync(Costs.measure))

  const results: Results = {
    date: new Date().toISOString(),
    seconds: (performance.now() - began) / 1000,
    machine: yield* Effect.promise(() => machine(loadAtStart)),
    settings,
    targets,
    pickup,
    throughput,
    breakdown,
    driver,
    costs
  }
  const markdown = render(results)
  fs.writeFileSync(path.join(here, "results.json"), JSON.stringify(results, null, 2) + "\n")
  fs.writeFileSync(path.join(here, "results.md"), markdown)
  process.stdout.write(markdown)
}).pipe(Effect.scoped)

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
