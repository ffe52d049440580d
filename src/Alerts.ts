/**
 * Alerting on the health of the job queue: rules evaluated on a schedule
 * against health snapshots, each rule firing or clear, and a sink told
 * about every change (a rule starts firing, or clears) and nothing else.
 *
 * The evaluation reads the database through Health, a few short queries
 * per round, and never touches a job. Sinks take alerts without waiting
 * on their delivery.
 */
import type { SqlClient } from "@effect/sql"
import { Context, type Duration, Effect, Layer, Option, Ref, Schedule } from "effect"
import { type AlertRule, defaultRules } from "./alerts/AlertRules.js"
import { Alert, AlertSink, log } from "./alerts/AlertSink.js"
import type { StoreError } from "./Errors.js"
import * as Health from "./Health.js"

export * from "./alerts/AlertRules.js"
export {
  Alert,
  AlertSink,
  type AlertSinkShape,
  layerLog as layerLogSink,
  layerWebhook as layerWebhookSink,
  type WebhookOptions
} from "./alerts/AlertSink.js"

export interface AlertsOptions {
  /** The rules evaluated. Default `defaultRules`. */
  readonly rules?: ReadonlyArray<AlertRule> | undefined
  /** Time between evaluations; the first runs when the layer is built. Default 30 seconds. */
  readonly interval?: Duration.DurationInput | undefined
  /** The health snapshots' windows. */
  readonly health?: Health.HealthOptions | undefined
}

export interface AlertsShape {
  /**
   * Takes a snapshot, evaluates every rule now and notifies the sink of
   * each change; returns the changes. Evaluations never overlap.
   */
  readonly evaluate: Effect.Effect<ReadonlyArray<Alert>, StoreError>
  /** The alerts firing now, as of the last evaluation. */
  readonly firing: Effect.Effect<ReadonlyArray<Alert>>
}

export class Alerts extends Context.Tag("profile-insights/Alerts")<
  Alerts,
  AlertsShape
>() {}

/**
 * The alerting service over a Health service, with the AlertSink of the
 * context if there is one, else the log.
 */
export const make = (options: AlertsOptions = {}) =>
  Effect.gen(function* () {
    const rules = options.rules ?? defaultRules
    const names = new Set(rules.map((r) => r.name))
    if (names.size !== rules.length) {
      return yield* Effect.dieMessage("Alerts: two rules share a name")
    }
    const health = yield* Health.Health
    const sink = Option.getOrElse(yield* Effect.serviceOption(AlertSink), () => log)
    const firing = yield* Ref.make<ReadonlyMap<string, Alert>>(new Map())
    const lock = yield* Effect.makeSemaphore(1)

    const evaluate = Effect.gen(function* () {
      const snapshot = yield* health.snapshot
      const before = yield* Ref.get(firing)
      const after = new Map(before)
      const changes: Array<Alert> = []
      for (const rule of rules) {
        const finding = rule.check(snapshot)
        const current = before.get(rule.name)
        if (Option.isSome(finding)) {
          const alert = new Alert({
            rule: rule.name,
            state: "firing",
            severity: rule.severity,
            summary: finding.value.summary,
            details: finding.value.details ?? {},
            firingSince: current?.firingSince ?? snapshot.takenAt,
            at: snapshot.takenAt
          })
          after.set(rule.name, alert)
          if (current === undefined) changes.push(alert)
        } else if (current !== undefined) {
          after.delete(rule.name)
          changes.push(new Alert({ ...current, state: "cleared", at: snapshot.takenAt }))
        }
      }
      yield* Ref.set(firing, after)
      yield* Effect.forEach(changes, sink.notify, { discard: true })
      return changes
    }).pipe(lock.withPermits(1), Effect.withSpan("Alerts.evaluate"))

    return Alerts.of({
      evaluate,
      firing: Effect.map(Ref.get(firing), (m) => Array.from(m.values()))
    })
  })

/**
 * Alerts evaluated every `interval` (default 30 seconds) for the lifetime
 * of the layer, from a fiber of its scope, over the Health service of the
 * context. A failed evaluation (the database unreachable) is logged and
 * the schedule goes on. Notifies the AlertSink provided to it, or logs.
 */
export const layerFromHealth = (
  options: AlertsOptions = {}
): Layer.Layer<Alerts, never, Health.Health> =>
  Layer.scoped(
    Alerts,
    Effect.gen(function* () {
      const alerts = yield* make(options)
      yield* alerts.evaluate.pipe(
        Effect.catchAllCause((cause) =>
          Effect.logWarning("alert evaluation failed", cause)
        ),
        Effect.repeat(Schedule.spaced(options.interval ?? "30 seconds")),
        Effect.annotateLogs({ module: "Alerts" }),
        Effect.forkScoped
      )
      return alerts
    })
  )

/**
 * `layerFromHealth` over a Health service of its own (with
 * `options.health`), over the SqlClient of an adapter. Migrations must
 * have run: Insights.layer runs them.
 */
export const layer = (
  options: AlertsOptions = {}
): Layer.Layer<Alerts, never, SqlClient.SqlClient> =>
  layerFromHealth(options).pipe(Layer.provide(Health.layer(options.health)))
