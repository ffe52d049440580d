/**
 * The webhook sink against a real HTTP server on 127.0.0.1: the JSON it
 * posts, retries while the server is down, its bounded queue, and jobs
 * that run on while alerts cannot be delivered. Real time: these tests
 * wait on sockets, with delays of milliseconds.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Metric, Option, Schedule } from "effect"
import * as Alerts from "../../src/Alerts.js"
import { encodeAlert } from "../../src/alerts/AlertSink.js"
import { Insights } from "../../src/index.js"
import * as Metrics from "../../src/Metrics.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { libraryLayer, ownProfile, twelveCaptions } from "../support/Fixtures.js"
import { sqlite } from "../support/Storage.js"
import * as WebhookServer from "./WebhookServer.js"

const alert = (rule: string, state: "firing" | "cleared" = "firing") =>
  new Alerts.Alert({
    rule,
    state,
    severity: "warning",
    summary: `${rule} is ${state}`,
    details: { jobs: 2, ok: false, holder: null },
    firingSince: new Date("2026-01-10T12:00:00.000Z"),
    at: new Date("2026-01-10T12:05:00.000Z")
  })

const outcome = (name: string) =>
  Effect.map(
    Metric.value(
      Metric.tagged(Metric.tagged(Metrics.alertNotifications, "sink", "webhook"), "outcome", name)
    ),
    (s) => s.count
  )

/** Polls `condition` every 10 ms until it holds; fails after 10 seconds. */
const eventually = <E, R>(condition: Effect.Effect<boolean, E, R>) =>
  condition.pipe(
    Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (ok) => ok }),
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new Error("condition not met within 10 seconds")
    })
  )

const webhookSink = (options: Alerts.WebhookOptions) =>
  Effect.map(
    Layer.build(Alerts.layerWebhookSink(options).pipe(Layer.provide(FetchHttpClient.layer))),
    (context) => Context.get(context, Alerts.AlertSink)
  )

describe("the webhook sink", () => {
  it.scopedLive("POSTs each alert as JSON, with the configured headers", () =>
    Effect.gen(function* () {
      const server = yield* WebhookServer.start
      const sink = yield* webhookSink({
        url: server.url,
        headers: { "x-token": "secret" },
        log: false
      })
      const sent = alert("stalled-job")
      yield* sink.notify(sent)
      yield* sink.notify(alert("stalled-job", "cleared"))
      const first = yield* server.received.take
      const second = yield* server.received.take
      expect(first).toEqual({
        method: "POST",
        path: "/alerts",
        contentType: "application/json",
        token: "secret",
        body: {
          rule: "stalled-job",
          state: "firing",
          severity: "warning",
          summary: "stalled-job is firing",
          details: { jobs: 2, ok: false, holder: null },
          firingSince: "2026-01-10T12:00:00.000Z",
          at: "2026-01-10T12:05:00.000Z"
        }
      })
      expect(first.body).toEqual(encodeAlert(sent))
      expect(second.body).toMatchObject({ rule: "stalled-job", state: "cleared" })
    })
  )

  it.scopedLive("retries a down webhook, then drops the alert; delivers once it is back", () =>
    Effect.gen(function* () {
      const server = yield* WebhookServer.start
      yield* server.close
      const failedBefore = yield* outcome("failed")
      const deliveredBefore = yield* outcome("delivered")

      // Two quick retries: the alert is dropped while the server is down.
      const impatient = yield* webhookSink({
        url: server.url,
        retries: 2,
        retryBase: "10 millis",
        retryMax: "20 millis",
        log: false
      })
      yield* impatient.notify(alert("dropped"))
      yield* eventually(Effect.map(outcome("failed"), (n) => n === failedBefore + 1))

      // Many retries: the alert waits for the server to come back.
      const patient = yield* webhookSink({
        url: server.url,
        retries: 100,
        retryBase: "10 millis",
        retryMax: "50 millis",
        log: false
      })
      yield* patient.notify(alert("delayed"))
      yield* Effect.sleep("200 millis")
      expect(yield* server.all).toEqual([])
      yield* server.open
      const arrived = yield* server.received.take
      expect(arrived.body).toMatchObject({ rule: "delayed" })
      yield* eventually(Effect.map(outcome("delivered"), (n) => n === deliveredBefore + 1))
      expect((yield* server.all).map((r) => (r.body as { rule: string }).rule)).toEqual([
        "delayed"
      ])
    })
  )

  it.scopedLive("keeps at most `capacity` alerts waiting and never makes notify wait", () =>
    Effect.gen(function* () {
      const server = yield* WebhookServer.start
      yield* server.hold
      const droppedBefore = yield* outcome("dropped")
      const sink = yield* webhookSink({ url: server.url, capacity: 3, log: false })

      yield* sink.notify(alert("a1"))
      // a1 is in flight: the server holds it without an answer.
      yield* server.received.take
      const [took] = yield* Effect.timed(
        Effect.forEach([2, 3, 4, 5, 6, 7, 8, 9, 10], (i) => sink.notify(alert(`a${i}`)), {
          discard: true
        })
      )
      expect(Duration.toMillis(took)).toBeLessThan(500)
      // a2..a7 made way for the three newest.
      expect((yield* outcome("dropped")) - droppedBefore).toBe(6)

      yield* server.release
      yield* eventually(Effect.map(server.all, (all) => all.length === 4))
      const rules = (yield* server.all).map((r) => (r.body as { rule: string }).rule)
      expect(rules).toEqual(["a1", "a8", "a9", "a10"])
    })
  )

  it.scopedLive("jobs run to the end while the webhook is down, and alerts wait in a bounded queue", () =>
    Effect.gen(function* () {
      const server = yield* WebhookServer.start
      yield* server.close
      const droppedBefore = yield* outcome("dropped")
      const deliveredBefore = yield* outcome("delivered")
      // Fires on one evaluation and clears on the next, for ever.
      let evaluations = 0
      const flapping: Alerts.AlertRule = {
        name: "flapping",
        severity: "warning",
        check: () => (evaluations++ % 2 === 0 ? Option.some({ summary: "flap" }) : Option.none())
      }
      const analyzer = yield* ScriptedAnalyzer.make()
      const storage = (yield* sqlite.fresh)()
      const library = libraryLayer(storage, analyzer.layer)
      const alerting = Alerts.layer({ interval: "10 millis", rules: [flapping] }).pipe(
        Layer.provide(
          Alerts.layerWebhookSink({
            url: server.url,
            capacity: 5,
            retries: 1000,
            retryBase: "20 millis",
            retryMax: "50 millis",
            log: false
          }).pipe(Layer.provide(FetchHttpClient.layer))
        ),
        Layer.provide(storage)
      )
      // Alerting after the library, whose layer runs the migrations.
      const context = yield* Layer.build(alerting.pipe(Layer.provideMerge(library)))
      const api = Context.get(context, Insights.Insights)

      const { profile } = yield* api.importProfile("alice", ownProfile("busy", twelveCaptions))
      const job = yield* api.submit("alice", profile.id)
      const [took, done] = yield* Effect.timed(api.awaitJob("alice", job.id))
      expect(done.status).toBe("succeeded")
      expect(Duration.toMillis(took)).toBeLessThan(5_000)

      // The rule kept being evaluated, and what could not be delivered was dropped.
      yield* eventually(Effect.sync(() => evaluations > 20))
      yield* eventually(Effect.map(outcome("dropped"), (n) => n > droppedBefore))
      expect(yield* outcome("delivered")).toBe(deliveredBefore)
      expect(yield* server.all).toEqual([])

      // Back up: the alert in flight and the queued ones arrive.
      yield* server.open
      yield* eventually(Effect.map(outcome("delivered"), (n) => n > deliveredBefore + 5))
    })
  )
})
