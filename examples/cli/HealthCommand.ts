/**
 * `profile-insights health --db PATH|URL [--json] [--window MINUTES]`: the
 * health of the job queue in a database, read once, with the default
 * alert rules checked against it.
 *
 * The analyzer's latency is measured by the processes that run jobs; this
 * command runs none, so it reports it as not measured.
 */
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Layer, Option, Schema } from "effect"
import * as Alerts from "../../src/Alerts.js"
import * as Health from "../../src/Health.js"
import { Migrations, StoreError } from "../../src/index.js"
import * as Storage from "./Storage.js"

const db = Options.text("db").pipe(
  Options.withDescription("a SQLite file or a postgres:// URL"),
  Options.withDefault(".profile-insights/profile-insights.db")
)
const json = Options.boolean("json").pipe(
  Options.withDescription("print the snapshot and the checks as JSON")
)
const window = Options.integer("window").pipe(
  Options.withDescription("minutes over which failures and retries are counted"),
  Options.withDefault(10)
)

export interface Check {
  readonly rule: string
  readonly severity: Alerts.Severity
  readonly firing: boolean
  readonly summary: string | null
}

/** The default alert rules, each checked once against `snapshot`. */
export const checks = (snapshot: Health.HealthSnapshot): ReadonlyArray<Check> =>
  Alerts.defaultRules.map((rule) => {
    const finding = rule.check(snapshot)
    return {
      rule: rule.name,
      severity: rule.severity,
      firing: Option.isSome(finding),
      summary: Option.match(finding, { onNone: () => null, onSome: (f) => f.summary })
    }
  })

const line = (label: string, text: string) => `${label.padEnd(13)}${text}`
const percent = (rate: number) => `${(rate * 100).toFixed(1)}%`
const ago = (snapshot: Health.HealthSnapshot, at: Date) =>
  `${Alerts.formatMillis(Math.max(0, snapshot.takenAt.getTime() - at.getTime()))} ago`

/** The snapshot and its checks as plain text for a terminal. */
export const render = (
  snapshot: Health.HealthSnapshot,
  checked: ReadonlyArray<Check>
): string => {
  const { jobs, recent, repairs, analyzerLatency: latency } = snapshot
  const lines: Array<string> = [`Health at ${snapshot.takenAt.toISOString()}`, ""]
  lines.push(line(
    "Jobs",
    `queued ${jobs.queued} (${snapshot.due} due) · running ${snapshot.running} · ` +
      `stalled ${snapshot.stalled} · succeeded ${jobs.succeeded} · ` +
      `failed ${jobs.failed} · cancelled ${jobs.cancelled}`
  ))
  const oldest = snapshot.oldestQueued
  lines.push(line(
    "Oldest due",
    oldest === null
      ? "no job waiting"
      : `job ${oldest.jobId} waiting ${Alerts.formatMillis(oldest.waitingMillis)}`
  ))
  for (const job of snapshot.stalledJobs.slice(0, 5)) {
    const expired = job.leaseExpiredAt === null
      ? "no lease"
      : `lease expired ${ago(snapshot, job.leaseExpiredAt)}`
    lines.push(line(
      "Stalled",
      `job ${job.jobId} of ${job.leaseHolder ?? "no runner"}, ${expired}, attempt ${job.attempt}`
    ))
  }
  if (snapshot.stalled > 5) lines.push(line("", `and ${snapshot.stalled - 5} more`))
  lines.push(line(
    `Last ${Alerts.formatMillis(recent.windowMillis)}`,
    `succeeded ${recent.succeeded} · failed ${recent.failed}` +
      (recent.failureRate === null ? "" : ` (${percent(recent.failureRate)})`) +
      ` · cancelled ${recent.cancelled} · retried ${recent.retried}`
  ))
  lines.push(line(
    "Analyzer",
    latency.p50Millis === null
      ? "latency not measured in this process (see a worker's metrics)"
      : `p50 ${latency.p50Millis}ms · p95 ${latency.p95Millis}ms (last 10m)`
  ))
  const last = repairs.last
  lines.push(line(
    "Repairs",
    !repairs.recorded
      ? "none (the database has no repair table yet)"
      : last === null
        ? "none recorded"
        : `last ${last.violation} (${last.action}) by ${last.actor} ` +
          ago(snapshot, last.at)
  ))
  for (const r of repairs.recentByViolation) {
    lines.push(line(
      "",
      `${r.violation}: ${r.repairs} in ${r.runs} run(s), last ${Alerts.formatMillis(repairs.windowMillis)}`
    ))
  }
  lines.push("")
  const firing = checked.filter((c) => c.firing)
  if (firing.length === 0) {
    lines.push(line("Checks", `ok (${checked.map((c) => c.rule).join(", ")})`))
  }
  for (const c of firing) {
    lines.push(line("Checks", `${c.severity.toUpperCase()} ${c.rule}: ${c.summary}`))
  }
  return lines.join("\n")
}

export const health = Command.make("health", { db, json, window }, (args) =>
  Effect.gen(function* () {
    const snapshot = yield* Effect.flatMap(Health.Health, (h) => h.snapshot)
    const checked = checks(snapshot)
    yield* args.json
      ? Console.log(JSON.stringify(
        { ...Schema.encodeSync(Health.HealthSnapshot)(snapshot), checks: checked },
        null,
        2
      ))
      : Console.log(render(snapshot, checked))
  }).pipe(
    Effect.provide(
      Health.layer({ window: Duration.minutes(args.window) }).pipe(
        Layer.provideMerge(
          Layer.effectDiscard(Effect.mapError(
            Migrations.migrate,
            (cause) => new StoreError({ operation: "migrate", cause })
          ))
        ),
        Layer.provide(Storage.fromDb(args.db))
      )
    )
  )
).pipe(
  Command.withDescription(
    "print the health of the job queue: depth, waiting, stalls, failures, repairs"
  )
)
