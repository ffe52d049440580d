/**
 * Where alerts go. A sink must not make its caller wait on the outside
 * world: `notify` hands the alert over and returns.
 *
 * Two sinks ship: the log (the default) and a webhook that POSTs each
 * alert as JSON from its own fiber, through a bounded queue, retrying with
 * backoff. A webhook that is down delays alerts, and drops them once the
 * retries or the queue run out; it never slows the evaluation of rules,
 * let alone jobs.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Context, type Duration, Effect, Layer, Metric, Queue, Ref, Schedule, Schema } from "effect"
import * as Metrics from "../Metrics.js"

/**
 * A change of a rule's state: it started firing, or it cleared. The JSON
 * body a webhook receives is this, encoded (dates as ISO strings).
 */
export class Alert extends Schema.Class<Alert>("Alert")({
  rule: Schema.String,
  state: Schema.Literal("firing", "cleared"),
  severity: Schema.Literal("warning", "critical"),
  /** The finding, or for a clear the finding it had when it last fired. */
  summary: Schema.String,
  details: Schema.Record({
    key: Schema.String,
    value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean, Schema.Null)
  }),
  /** When the rule started firing. */
  firingSince: Schema.Date,
  /** When this change was seen: the time of the health snapshot. */
  at: Schema.Date
}) {}

export const encodeAlert = Schema.encodeSync(Alert)

export interface AlertSinkShape {
  /** Hands an alert over. Returns without waiting for any delivery. */
  readonly notify: (alert: Alert) => Effect.Effect<void>
}

export class AlertSink extends Context.Tag("profile-insights/AlertSink")<
  AlertSink,
  AlertSinkShape
>() {}

const counted = (sink: string, outcome: string) =>
  Metric.increment(
    Metric.tagged(Metric.tagged(Metrics.alertNotifications, "sink", sink), "outcome", outcome)
  )

/** Firing alerts as warnings, clears as info, with the rule and its details as annotations. */
export const log: AlertSinkShape = {
  notify: (alert) =>
    (alert.state === "firing"
      ? Effect.logWarning(`alert firing: ${alert.summary}`)
      : Effect.logInfo(`alert cleared: ${alert.summary}`)
    ).pipe(
      Effect.zipRight(counted("log", "logged")),
      Effect.annotateLogs({
        module: "Alerts",
        rule: alert.rule,
        severity: alert.severity,
        firingSince: alert.firingSince.toISOString()
      })
    )
}

/** The log sink. */
export const layerLog: Layer.Layer<AlertSink> = Layer.succeed(AlertSink, log)

export interface WebhookOptions {
  /** Where alerts are POSTed as JSON. */
  readonly url: string
  readonly headers?: Record<string, string> | undefined
  /**
   * Alerts waiting for delivery. When full, the oldest waiting alert is
   * dropped for the new one. Default 100.
   */
  readonly capacity?: number | undefined
  /** Retries of one delivery before it is dropped. Default 5. */
  readonly retries?: number | undefined
  /** First delay between retries; doubles each time, jittered. Default 1 second. */
  readonly retryBase?: Duration.DurationInput | undefined
  /** Longest delay between retries. Default 30 seconds. */
  readonly retryMax?: Duration.DurationInput | undefined
  /** Longest one request may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Also log each alert. Default true. */
  readonly log?: boolean | undefined
}

/**
 * Alerts POSTed to a webhook from a fiber of the layer's scope, one at a
 * time, in order. A delivery is retried on a network error, a timeout or a
 * status other than 2xx, with jittered exponential backoff, up to
 * `retries` times; then it is logged and dropped. Alerts still queued when
 * the scope closes are not delivered.
 *
 * Counts in Metrics.alertNotifications, sink "webhook": queued, delivered,
 * failed (retries exhausted) and dropped (queue full).
 */
export const layerWebhook = (
  options: WebhookOptions
): Layer.Layer<AlertSink, never, HttpClient.HttpClient> =>
  Layer.scoped(
    AlertSink,
    Effect.gen(function* () {
      const capacity = options.capacity ?? 100
      const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient)
      const queue = yield* Effect.acquireRelease(
        Queue.sliding<Alert>(capacity),
        Queue.shutdown
      )
      const overflowing = yield* Ref.make(false)
      const retry = Schedule.exponential(options.retryBase ?? "1 second").pipe(
        Schedule.union(Schedule.spaced(options.retryMax ?? "30 seconds")),
        Schedule.jittered,
        Schedule.intersect(Schedule.recurs(options.retries ?? 5))
      )

      const deliver = (alert: Alert) =>
        HttpClientRequest.post(options.url).pipe(
          HttpClientRequest.setHeaders(options.headers ?? {}),
          HttpClientRequest.bodyUnsafeJson(encodeAlert(alert)),
          client.execute,
          Effect.flatMap((response) => response.text),
          Effect.timeout(options.timeout ?? "10 seconds"),
          Effect.retry(retry),
          Effect.zipRight(counted("webhook", "delivered")),
          Effect.zipRight(Ref.set(overflowing, false)),
          Effect.catchAll((error) =>
            Effect.zipRight(
              counted("webhook", "failed"),
              Effect.logWarning("alert webhook delivery failed; alert dropped", error)
            )
          ),
          Effect.annotateLogs({ rule: alert.rule, state: alert.state })
        )

      yield* Queue.take(queue).pipe(
        Effect.flatMap(deliver),
        Effect.forever,
        Effect.annotateLogs({ module: "Alerts", sink: "webhook" }),
        Effect.forkScoped
      )

      // Logged once per overflow, not once per dropped alert.
      const enqueue = (alert: Alert) =>
        Effect.gen(function* () {
          if ((yield* Queue.size(queue)) >= capacity) {
            yield* counted("webhook", "dropped")
            if (!(yield* Ref.getAndSet(overflowing, true))) {
              yield* Effect.logWarning(
                "alert webhook queue full; dropping the oldest alerts until it answers"
              ).pipe(Effect.annotateLogs({ module: "Alerts", sink: "webhook", capacity }))
            }
          }
          yield* Queue.offer(queue, alert)
          yield* counted("webhook", "queued")
        })

      return AlertSink.of({
        notify: (options.log ?? true)
          ? (alert) => Effect.zipRight(log.notify(alert), enqueue(alert))
          : enqueue
      })
    })
  )
