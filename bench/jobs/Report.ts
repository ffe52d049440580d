/**
 * results.md from the measured figures: the targets beside them, and,
 * where a target is missed, the measurements that say why.
 */
import { type StoreBreakdown, pickupPath } from "./Breakdown.js"
import type { Cost } from "./Costs.js"
import type { DriverResult } from "./DriverCheckpoint.js"
import type { PickupResult } from "./Pickup.js"
import type { settings, targets } from "./Settings.js"
import type { ThroughputResult } from "./Throughput.js"

export interface Machine {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGiB: number
  readonly platform: string
  readonly node: string
  readonly effect: string
  readonly postgres: string
  readonly postgresSettings: Record<string, string>
  readonly sqlite: string
  /** 1, 5 and 15 minute load averages when the run started and ended. */
  readonly loadAverage: { readonly start: ReadonlyArray<number>; readonly end: ReadonlyArray<number> }
}

export interface Results {
  readonly date: string
  readonly seconds: number
  readonly machine: Machine
  readonly settings: typeof settings
  readonly targets: typeof targets
  readonly pickup: ReadonlyArray<PickupResult>
  readonly throughput: ReadonlyArray<ThroughputResult>
  readonly breakdown: { readonly sqlite: StoreBreakdown; readonly postgres: StoreBreakdown }
  readonly driver: { readonly sqlite: DriverResult; readonly postgres: DriverResult }
  readonly costs: ReadonlyArray<Cost>
}

const ms = (x: number) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0))
const us = (millis: number) => `${Math.round(millis * 1000)} µs`
const rate = (x: number) => Math.round(x).toLocaleString("en-US")
const times = (x: number) => `${x.toFixed(1)}×`

const latencyVerdict = (value: number, target: number) =>
  value <= target
    ? "met"
    : `missed by ${ms(value - target)} ms (${times(value / target)})`

const rateVerdict = (value: number, target: number) =>
  value >= target
    ? "met"
    : `missed by ${rate(target - value)}/s (${times(target / value)} short)`

export const render = (r: Results): string => {
  const out: Array<string> = []
  const line = (s = "") => out.push(s)
  const m = r.machine
  const t = r.targets
  const pickup = (store: string, mode: string) =>
    r.pickup.find((p) => p.store === store && p.mode === mode)
  const tp = (store: string, concurrency: number) =>
    r.throughput.find((x) => x.store === store && x.concurrency === concurrency)!

  line("# Job runner: pickup latency and throughput")
  line()
  line("Written by `npx tsx bench/jobs/run.ts`; do not edit by hand. README.md says")
  line("what each figure measures.")
  line()
  line(`${r.date}: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node},`)
  line(`effect ${m.effect}; Postgres ${m.postgres} on the same host (fsync ${m.postgresSettings.fsync},`)
  line(`synchronous_commit ${m.postgresSettings.synchronous_commit}, wal_sync_method ${m.postgresSettings.wal_sync_method});`)
  line(`SQLite ${m.sqlite} (WAL, synchronous NORMAL). Load average ${m.loadAverage.start.join(" / ")} at the`)
  line(`start, ${m.loadAverage.end.join(" / ")} at the end (1 / 5 / 15 min); the run took ${r.seconds.toFixed(0)} s.`)
  line("A load above the core count means other processes competed for the CPU and the")
  line("figures are pessimistic.")
  line()

  // -------------------------------------------------------------------------
  line("## Against the targets")
  line()
  line("Targets: graphile-worker on this kind of machine (2 cores, Postgres 15 on the")
  line(`same host); stretch: BullMQ on Redis (p50 ${t.stretchPickupP50} ms, p99 ${t.stretchPickupP99} ms).`)
  line("The targets are for Postgres; SQLite is held to the same figures for comparison.")
  line()
  line("| Figure | Target | Postgres | | SQLite | |")
  line("|---|---|---|---|---|---|")
  for (const mode of ["in-process", "cross-process"] as const) {
    for (const q of ["p50", "p99"] as const) {
      const target = q === "p50" ? t.pickupP50 : t.pickupP99
      const pg = pickup("postgres", mode)
      const sq = pickup("sqlite", mode)
      const cell = (p: PickupResult | undefined) =>
        p === undefined ? "— | " : `${ms(p.pickup[q])} ms | ${latencyVerdict(p.pickup[q], target)}`
      line(`| pickup ${q}, ${mode} | ≤ ${target} ms | ${cell(pg)} | ${cell(sq)} |`)
    }
  }
  for (const c of r.settings.concurrencies) {
    const pg = tp("postgres", c)
    const sq = tp("sqlite", c)
    const target = c === 16 ? `≥ ${rate(t.postsPerSecond)}/s` : "—"
    const verdict = (x: ThroughputResult) => (c === 16 ? rateVerdict(x.checkpointRate, t.postsPerSecond) : "")
    line(`| posts/s, concurrency ${c} | ${target} | ${rate(pg.checkpointRate)}/s | ${verdict(pg)} | ${rate(sq.checkpointRate)}/s | ${verdict(sq)} |`)
  }
  line()

  // -------------------------------------------------------------------------
  line("## Pickup latency")
  line()
  line("Just before submit, on an idle queue, to the job's first analyzer call; one")
  line("profile with one post per sample, each job finished and the runner idle")
  line(`${r.settings.pickupGapMillis} ms before the next submit; ${r.settings.pickupWarmup} warm-up samples dropped (${r.settings.sqliteCrossProcessWarmup} for SQLite cross-process). Runner`)
  line("defaults (2 jobs at once, 1 s poll). Milliseconds; \"submit\" is how long the")
  line("submit call itself took.")
  line()
  line("| Store | Runner | Woken by | Samples | p50 | p90 | p99 | max | submit p50 |")
  line("|---|---|---|---|---|---|---|---|---|")
  for (const p of r.pickup) {
    const s = p.pickup
    line(`| ${p.store} | ${p.mode} | ${p.wake} | ${s.samples} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${ms(p.submit.p50)} |`)
  }
  line()
  for (const p of r.pickup.filter((x) => x.clockOffset !== undefined)) {
    line(`Cross-process ${p.store}: the child's wall clock read ${ms(p.clockOffset!.millis)} ms against`)
    line(`ours, ± ${ms(p.clockOffset!.roundTrip / 2)} ms (half the best ping round trip); not subtracted.`)
  }
  line()

  // -------------------------------------------------------------------------
  line("## Throughput")
  line()
  line(`One job of ${rate(r.settings.throughputPosts)} posts, no-op analyzer, per store and post concurrency. Checkpoint`)
  line("rate (the target's figure): posts per second committed, from the job's")
  line("progress counter read every 10 ms, between 10% and 90% of the posts. Job")
  line("rate: posts per second from submit to the job's finish.")
  line("Phases in milliseconds: start (submit to first call: claim, load, snapshot,")
  line("begin), analyse (first to last call), finish (last checkpoints, snapshot,")
  line("aggregate, complete). CPU: milliseconds per post, and cores kept busy.")
  line("Statements (commits): what the job sent Postgres from submit to finish.")
  line()
  line("| Store | Concurrency | Checkpoint rate | Job rate | Start | Analyse | Finish | Node CPU/post | Postgres CPU/post | Cores node / pg | Statements (commits) |")
  line("|---|---|---|---|---|---|---|---|---|---|---|")
  for (const x of r.throughput) {
    const sent = x.sent === undefined ? "" : `${rate(x.sent.statements)} (${rate(x.sent.commits)})`
    line(`| ${x.store} | ${x.concurrency} | ${rate(x.checkpointRate)}/s | ${rate(x.jobRate)}/s | ${ms(x.phases.start)} | ${ms(x.phases.analyse)} | ${ms(x.phases.finish)} | ${x.cpuPerPost.node.toFixed(2)} ms | ${x.cpuPerPost.postgres.toFixed(2)} ms | ${x.cores.node.toFixed(2)} / ${x.cores.postgres.toFixed(2)} | ${sent} |`)
  }
  line()

  // -------------------------------------------------------------------------
  line("## Why")
  line()
  why(r).forEach((paragraph) => {
    line(paragraph)
    line()
  })

  // -------------------------------------------------------------------------
  line("## Where the time goes")
  line()
  line(`Each store operation of a one-post job, called directly with no runner, median of`)
  line(`${r.settings.operationJobs} jobs; on Postgres with the statements it sends (BEGIN and COMMIT included)`)
  line("and how many of them are COMMITs.")
  line()
  const pgOps = r.breakdown.postgres
  line("| Operation | SQLite | Postgres | Postgres statements (commits) |")
  line("|---|---|---|---|")
  for (const name of Object.keys(pgOps.operations)) {
    const s = pgOps.statements[name]
    line(`| ${name} | ${us(r.breakdown.sqlite.operations[name] ?? NaN)} | ${us(pgOps.operations[name]!)} | ${s === undefined ? "" : `${s.statements} (${s.commits})`} |`)
  }
  line(`| SELECT 1, bare driver | ${us(r.driver.sqlite.roundTrip)} | ${us(r.driver.postgres.roundTrip)} | 1 |`)
  line(`| Node CPU per SELECT 1, bare driver | ${us(r.driver.sqlite.roundTripCpu)} | ${us(r.driver.postgres.roundTripCpu)} | |`)
  line(`| SELECT 1, SqlClient | ${us(r.breakdown.sqlite.sqlClient.roundTrip)} | ${us(pgOps.sqlClient.roundTrip)} | 1 |`)
  line(`| empty write transaction, SqlClient | ${us(r.breakdown.sqlite.sqlClient.emptyWriteTransaction)} | ${us(pgOps.sqlClient.emptyWriteTransaction)} | 2 (1) |`)
  line()
  line("Checkpoints per second of one job: JobStore.checkpoint called directly with")
  line(`one post a call (no runner, no analyzer), ${r.settings.checkpointPosts} posts; then the checkpoint's SQL`)
  line("through the bare driver with a prebuilt result (pool of 10 on Postgres, as the")
  line("library's), in the store's order and in other designs. The statement counts of")
  line("the bare-driver rows include BEGIN and COMMIT.")
  line()
  line("| Store | Writer | Statements per transaction | Posts per transaction | Concurrency 1 | Concurrency 16 |")
  line("|---|---|---|---|---|---|")
  for (const store of ["sqlite", "postgres"] as const) {
    const d = r.breakdown[store].directCheckpoint
    const stmts = r.breakdown[store].statements.checkpoint?.statements
    line(`| ${store} | JobStore.checkpoint, one post a call | ${stmts ?? ""} | 1 | ${rate(d[1]!)}/s | ${rate(d[16]!)}/s |`)
    for (const design of r.driver[store].designs) {
      const c16 = design.rates[16]
      line(`| ${store} | bare driver, ${design.design} | ${design.roundTrips} | ${design.postsPerTransaction} | ${rate(design.rates[1]!)}/s | ${c16 === undefined ? "— (one connection)" : `${rate(c16)}/s`} |`)
    }
  }
  line()
  line("CPU costs a job pays per post, measured one at a time in this process:")
  line("microseconds of CPU per call, best of three rounds.")
  line()
  line("| Piece | µs |")
  line("|---|---|")
  for (const c of r.costs) line(`| ${c.name} | ${c.micros.toFixed(1)} |`)
  line()
  return out.join("\n")
}

/** Paragraphs explaining each missed target from the measurements. */
const why = (r: Results): Array<string> => {
  const paragraphs: Array<string> = []
  const t = r.targets
  const pg = r.breakdown.postgres
  const sq = r.breakdown.sqlite
  const rtt = r.driver.postgres.roundTrip
  const cost = (name: string) => r.costs.find((c) => c.name.startsWith(name))?.micros ?? NaN

  const inProcess = r.pickup.find((p) => p.store === "postgres" && p.mode === "in-process")
  const crossProcess = r.pickup.find((p) => p.store === "postgres" && p.mode === "cross-process")
  if (inProcess !== undefined && (inProcess.pickup.p50 > t.pickupP50 || inProcess.pickup.p99 > t.pickupP99)) {
    const path = pickupPath.reduce((sum, name) => sum + (pg.operations[name] ?? 0), 0)
    const statements = pickupPath.reduce((sum, name) => sum + (pg.statements[name]?.statements ?? 0), 0)
    const commits = pickupPath.reduce((sum, name) => sum + (pg.statements[name]?.commits ?? 0), 0)
    const count = (n: number | undefined) =>
      n === undefined ? "?" : `${n} statement${n === 1 ? "" : "s"}`
    const each = pickupPath
      .map((name) => `${name} ${ms(pg.operations[name] ?? NaN)} ms (${count(pg.statements[name]?.statements)})`)
      .join(", ")
    paragraphs.push(
      `**Pickup, Postgres.** Before its first analyzer call a job goes through ${pickupPath.length} store ` +
        `operations, one after the other: ${each}. That is ${statements} statements and ${commits} ` +
        `COMMITs, each COMMIT waiting for the WAL flush, and ${ms(path)} ms when the operations are ` +
        `timed alone, against a p50 of ${ms(inProcess.pickup.p50)} ms in-process` +
        (crossProcess === undefined ? "" : ` and ${ms(crossProcess.pickup.p50)} ms cross-process`) +
        `. At ${us(rtt)} a round trip the statements' wire time alone is ${ms(statements * rtt)} ms, ` +
        `and each costs this process about ${us(r.driver.postgres.roundTripCpu)} of CPU (socket write and ` +
        `read, measured on SELECT 1 through the bare driver). ` +
        `The remaining ${ms(Math.max(0, inProcess.pickup.p50 - path))} ms of the in-process p50 is the ` +
        `wake-up and the fibers between submit and the analyzer (signal, claim loop, job fiber), and, ` +
        `under load, waiting for a CPU. Submit alone takes ${ms(inProcess.submit.p50)} ms (p50), and the ` +
        `in-process signal fires only when it returns, after its COMMIT and its read of the new job; ` +
        `on Postgres the NOTIFY echo may wake the runner first, and the in-process signal then wakes ` +
        `it again for a claim that finds nothing but competes with the job's first statements. The p99 ` +
        `(${ms(inProcess.pickup.p99)} ms in-process${crossProcess === undefined ? "" : `, ${ms(crossProcess.pickup.p99)} ms cross-process`}) ` +
        `follows the same path plus scheduling and GC pauses.`
    )
  }

  const pg16 = r.throughput.find((x) => x.store === "postgres" && x.concurrency === 16)
  const pg1 = r.throughput.find((x) => x.store === "postgres" && x.concurrency === 1)
  if (pg16 !== undefined && pg1 !== undefined && pg16.checkpointRate < t.postsPerSecond) {
    const designs = r.driver.postgres.designs
    const current = designs[0]!
    const withoutNotify = designs.find((d) => d.design.includes("without pg_notify"))
    const direct = pg.directCheckpoint
    const checkpoint = pg.statements.checkpoint
    const serialised = direct[16]! < 1.5 * direct[1]!
    const notifyCosts = withoutNotify !== undefined &&
      withoutNotify.rates[16]! > 1.2 * current.rates[16]!
    const perTransaction = (x: ThroughputResult) =>
      x.sent === undefined || x.sent.commits === 0 ? NaN : x.posts / x.sent.commits
    const others = designs
      .slice(1)
      .map((d) => `${d.design} ${rate(d.rates[16]!)}/s`)
      .join("; ")
    paragraphs.push(
      `**Throughput, Postgres.** ${rate(pg16.checkpointRate)} posts/s at concurrency 16 and ` +
        `${rate(pg1.checkpointRate)}/s at 1. A checkpoint of one post is one transaction of ` +
        `${checkpoint?.statements ?? "?"} statements whose COMMIT waits for the WAL flush: ` +
        `${ms(pg.operations.checkpoint ?? NaN)} ms when timed alone. The runner wrote the job's ` +
        `${rate(pg16.posts)} posts in about ${rate(pg16.sent?.commits ?? NaN)} transactions at ` +
        `concurrency 16 (${perTransaction(pg16).toFixed(1)} posts each, counting the job's other ` +
        `transactions) and ${rate(pg1.sent?.commits ?? NaN)} at concurrency 1 ` +
        `(${perTransaction(pg1).toFixed(1)}). Called one post at a time, JobStore.checkpoint ` +
        `manages ${rate(direct[1]!)}/s at concurrency 1 and ${rate(direct[16]!)}/s at 16; the store's ` +
        `statements through the bare driver ${rate(current.rates[1]!)}/s and ${rate(current.rates[16]!)}/s. ` +
        (serialised
          ? "More concurrent transactions do not help: each updates the job's row (the fenced " +
            "counter) and holds that row's lock until its COMMIT has flushed, so the transactions " +
            "of one job commit one at a time; only more posts per transaction raise the rate. "
          : "") +
        (notifyCosts
          ? "pg_notify adds to it: NOTIFY takes a cluster-wide lock at COMMIT, held until the commit " +
            "has flushed, that serialises every notifying transaction. "
          : "") +
        `Through the bare driver at concurrency 16: ${others}. ` +
        `In the runner, Node also spends ${pg16.cpuPerPost.node.toFixed(2)} ms of CPU per post ` +
        `(${pg16.cores.node.toFixed(2)} cores busy on average), a good part of it in socket writes ` +
        `and reads at ${us(r.driver.postgres.roundTripCpu)} a round trip, and the Postgres backends ` +
        `${pg16.cpuPerPost.postgres.toFixed(2)} ms.`
    )
  }

  const sq16 = r.throughput.find((x) => x.store === "sqlite" && x.concurrency === 16)
  const sq1 = r.throughput.find((x) => x.store === "sqlite" && x.concurrency === 1)
  if (sq16 !== undefined && sq1 !== undefined && sq16.checkpointRate < t.postsPerSecond) {
    const bare = r.driver.sqlite.designs[0]!.rates[1]!
    paragraphs.push(
      `**Throughput, SQLite.** ${rate(sq16.checkpointRate)} posts/s at concurrency 16 and ` +
        `${rate(sq1.checkpointRate)}/s at 1. SQLite itself is not the limit: the checkpoint's statements ` +
        `through better-sqlite3 run at ${rate(bare)}/s. Through the SqlClient a SELECT 1 costs ` +
        `${us(sq.sqlClient.roundTrip)} against ${us(r.driver.sqlite.roundTrip)} bare, an empty write ` +
        `transaction ${us(sq.sqlClient.emptyWriteTransaction)}, and JobStore.checkpoint called directly ` +
        `manages ${rate(sq.directCheckpoint[1]!)}/s. In the runner a post takes ` +
        `${ms(1000 / sq16.checkpointRate)} ms of wall time and ${sq16.cpuPerPost.node.toFixed(2)} ms of ` +
        `Node's CPU (${sq16.cores.node.toFixed(2)} cores busy). SQLite runs synchronously in this ` +
        `process, so there is nothing else to wait for but the disk and, on a loaded machine, a CPU: ` +
        `the SQLite path is bound by Node's CPU. ` +
        (sq16.checkpointRate >= 1.5 * sq1.checkpointRate
          ? "Concurrency 16 gains only through the group commit, which puts several posts in one " +
            "transaction; the statements themselves run one at a time on the client's one connection."
          : "Concurrency cannot help: better-sqlite3 is synchronous and the client serialises every " +
            "statement on its one connection.")
    )
  }

  if (paragraphs.length > 0) {
    const validating = cost("new PostAnalysis, validating")
    const unvalidated = cost("new PostAnalysis, validation off")
    paragraphs.push(
      `**CPU per post** (see the last table). A validating Schema.Class constructor is costly: ` +
        `${validating.toFixed(0)} µs for a PostAnalysis, ${unvalidated.toFixed(1)} µs with validation ` +
        `off, which is safe wherever the value is built from data already decoded or typed. A post ` +
        `row decoded and built into a Post costs ${cost("post row decoded, then").toFixed(0)} µs ` +
        `(${cost("post row decoded only").toFixed(0)} µs of it decoding), paid for every post by each ` +
        `of a job's two snapshots. The runner wraps each analyzer call in a timeout, a retry and a ` +
        `span: ${cost("the per-post wrapper").toFixed(0)} µs around a no-op, most of it the timeout ` +
        `(${cost("Effect.timeoutFail").toFixed(0)} µs) and the span (${cost("Effect.withSpan around").toFixed(0)} µs); ` +
        `encoding a result costs ${cost("result encoded").toFixed(0)} µs. Logging at Warning costs ` +
        `${cost("Effect.logDebug").toFixed(1)} µs a suppressed call: not a factor.`
    )
  }
  return paragraphs
}
