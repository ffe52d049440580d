/**
 * The exports of Telemetry after a real run: the metrics in Prometheus's
 * text format (rendered, and served through the handler), and the spans of
 * submit, claim, each post and aggregation through an OpenTelemetry span
 * processor.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import {
  InMemorySpanExporter,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Metric } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as Health from "../../src/Health.js"
import { Insights } from "../../src/index.js"
import * as Metrics from "../../src/Metrics.js"
import * as Telemetry from "../../src/Telemetry.js"
import * as WebhookServer from "./WebhookServer.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { libraryLayer, ownProfile, twelveCaptions } from "../support/Fixtures.js"
import { storages } from "../support/Storage.js"

const captions = twelveCaptions.map((c, i) =>
  i === 4 ? "this one will fail-forever" : i === 7 ? "good food flaky-2" : c
)

/** Imports a profile of the captions above and runs its job to the end. */
const runOneJob = Effect.gen(function* () {
  const api = yield* Insights.Insights
  const { profile } = yield* api.importProfile("alice", ownProfile("exported", captions))
  const job = yield* api.submit("alice", profile.id)
  return yield* api.awaitJob("alice", job.id)
})

/** Keeps its spans when the provider shuts down with the layer. */
class KeptSpans extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

const lineValue = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe.each(storages.filter((s) => s.available))("telemetry on $name", (storage) => {
  it.live("Prometheus text has the library's metrics with their values", () =>
    Effect.gen(function* () {
      const analyzer = yield* ScriptedAnalyzer.make()
      const database = (yield* storage.fresh)()
      const before = (yield* Metric.value(Metrics.postsAnalysed)).count
      const done = yield* Effect.gen(function* () {
        const finished = yield* runOneJob
        yield* Effect.flatMap(Health.Health, (h) => h.snapshot)
        return finished
      }).pipe(
        Effect.provide(
          Health.layer().pipe(
            Layer.provideMerge(libraryLayer(database, analyzer.layer)),
            Layer.provide(database)
          )
        )
      )
      expect(done.status).toBe("succeeded")

      const text = yield* Telemetry.prometheusText
      const value = (metric: Metric.Metric.Counter<number>) =>
        Effect.map(Metric.value(metric), (s) => s.count)
      const expected: Record<string, number> = {
        profile_insights_jobs_claimed_total: yield* value(Metrics.jobsClaimed),
        profile_insights_jobs_succeeded_total: yield* value(Metrics.jobsSucceeded),
        profile_insights_jobs_failed_total: yield* value(Metrics.jobsFailed),
        profile_insights_jobs_retried_total: yield* value(Metrics.jobsRetried),
        profile_insights_posts_analysed_total: yield* value(Metrics.postsAnalysed),
        profile_insights_posts_failed_total: yield* value(Metrics.postsFailed),
        profile_insights_analyzer_duration_seconds_count:
          (yield* Metric.value(Metrics.analyzerDuration)).count,
        "profile_insights_analyzer_duration_seconds_bucket{le=\"+Inf\"}":
          (yield* Metric.value(Metrics.analyzerDuration)).count,
        profile_insights_checkpoint_duration_seconds_count:
          (yield* Metric.value(Metrics.checkpointDuration)).count,
        "profile_insights_jobs{status=\"succeeded\"}": 1,
        "profile_insights_jobs{status=\"queued\"}": 0,
        profile_insights_jobs_stalled: 0
      }
      for (const [series, n] of Object.entries(expected)) {
        expect({ series, value: lineValue(text, series) }).toEqual({ series, value: n })
      }
      // This run's share: 11 posts analysed of 12, one failed for good.
      expect(expected.profile_insights_posts_analysed_total! - before).toBe(11)
      expect(text).toContain("# TYPE profile_insights_jobs_claimed_total counter")
      expect(text).toContain("# TYPE profile_insights_analyzer_duration_seconds histogram")
      expect(text).toContain("# TYPE profile_insights_jobs gauge")
      expect(text).toMatch(/^profile_insights_analyzer_duration_seconds_bucket\{le="0\.001"\} \d+$/m)
    })
  )
})

describe("Telemetry", () => {
  it.live("the Prometheus handler serves the text to a scraper", () =>
    Effect.gen(function* () {
      const prometheus = yield* Telemetry.Prometheus
      yield* Metric.increment(Metrics.jobsRetried)
      const server = yield* Effect.acquireRelease(
        Effect.async<ReturnType<typeof createServer>>((resume) => {
          const s = createServer(prometheus.handler)
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.async<void>((resume) => void s.close(() => resume(Effect.void)))
      )
      const { port } = server.address() as AddressInfo
      const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`))
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toContain("text/plain")
      const body = yield* Effect.promise(() => response.text())
      const retried = (yield* Metric.value(Metrics.jobsRetried)).count
      expect(lineValue(body, "profile_insights_jobs_retried_total")).toBe(retried)
      expect(body).toContain("target_info{service_name=\"profile-insights\"")
    }).pipe(Effect.scoped, Effect.provide(Telemetry.layerPrometheus()))
  )

  it.live("spans of submit, claim, every post and aggregation reach the span processor", () =>
    Effect.gen(function* () {
      const exporter = new KeptSpans()
      const analyzer = yield* ScriptedAnalyzer.make()
      const database = yield* storage().fresh
      const done = yield* runOneJob.pipe(
        Effect.provide(
          libraryLayer(database(), analyzer.layer).pipe(
            Layer.provide(Telemetry.layer({ spanProcessor: new SimpleSpanProcessor(exporter) }))
          )
        )
      )
      expect(done.status).toBe("succeeded")
      const spans = exporter.getFinishedSpans()
      const named = (name: string) => spans.filter((s) => s.name === name)
      expect(named("Insights.submit")).toHaveLength(1)
      expect(named("JobStore.submit")).toHaveLength(1)
      const claims = named("JobRunner.claim").filter((s) => s.attributes.jobId === done.id)
      expect(claims).toHaveLength(1)
      expect(claims[0]!.attributes.attempt).toBe(1)
      const [run] = named("AnalyzeProfile")
      expect(run?.attributes.jobId).toBe(done.id)
      const posts = named("AnalyzeProfile.post")
      expect(posts).toHaveLength(12)
      expect(new Set(posts.map((p) => p.parentSpanContext?.spanId))).toEqual(
        new Set([run!.spanContext().spanId])
      )
      // Checkpoints commit posts in groups; together they hold all 12.
      const checkpoints = named("JobStore.checkpoint")
      expect(checkpoints.length).toBeGreaterThanOrEqual(1)
      expect(checkpoints.reduce((n, s) => n + Number(s.attributes.posts), 0)).toBe(12)
      expect(named("AnalyzeProfile.aggregate")).toHaveLength(1)
      expect(named("JobStore.complete")).toHaveLength(1)
      expect(spans.every((s) => s.resource.attributes["service.name"] === "profile-insights"))
        .toBe(true)
    })
  )
})

const storage = () => storages[0]!

describe("Telemetry.layerOtlp", () => {
  it.scopedLive("sends spans to an OTLP/HTTP collector as JSON", () =>
    Effect.gen(function* () {
      const collector = yield* WebhookServer.start
      const url = collector.url.replace(/\/alerts$/, "")
      yield* Effect.void.pipe(
        Effect.withSpan("Health.snapshot", { attributes: { probe: "otlp" } }),
        Effect.provide(
          Telemetry.layerOtlp({ url, serviceName: "pi-test", exportInterval: "50 millis" }).pipe(
            Layer.provide(FetchHttpClient.layer)
          )
        )
      )
      const traces = (yield* collector.all).filter((r) => r.path === "/v1/traces")
      const text = JSON.stringify(traces.map((r) => r.body))
      expect(text).toContain("\"name\":\"Health.snapshot\"")
      expect(text).toContain("pi-test")
    })
  )
})
