/**
 * The LLM service failing, inside real jobs (Insights.layer on SQLite with
 * a runner, the fake chat completions server on 127.0.0.1): an outage is
 * the service's failure, not the posts'. A job's attempt ends, the job is
 * handed back with a backoff that honours Retry-After, and after its last
 * attempt it ends failed with the cause; no post is recorded as failed.
 * Real time, with small retry settings.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Logger, LogLevel } from "effect"
import * as OpenAiAnalyzer from "../../src/analyzer/OpenAiAnalyzer.js"
import { Insights, type JobRunner, ProfileStore } from "../../src/index.js"
import * as Fake from "../support/FakeChatServer.js"
import { ownProfile } from "../support/Fixtures.js"
import { sqlite } from "../support/Storage.js"
import { testOptions } from "./Harness.js"

const version = OpenAiAnalyzer.versionOf("fake-model")

const library = (
  server: Fake.FakeChatServer,
  overrides: Partial<OpenAiAnalyzer.Options>,
  runner: JobRunner.RunnerOptions = {}
) =>
  Effect.map(sqlite.fresh, (storage) =>
    Insights.layer({
      pollInterval: "20 millis",
      postRetryBase: "5 millis",
      postRetries: 1,
      retryBase: "20 millis",
      ...runner
    }).pipe(
      Layer.provideMerge(
        OpenAiAnalyzer.layer(
          testOptions(server, { maxRetries: 1, retryBase: "10 millis", ...overrides })
        ).pipe(Layer.provide(NodeHttpClient.layerUndici))
      ),
      Layer.provideMerge(storage()),
      Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
    )
  )

const captions = Array.from({ length: 6 }, (_, i) => `good food post ${i}`)

const stored = (profileId: string) =>
  Effect.flatMap(ProfileStore.ProfileStore, (profiles) =>
    profiles.snapshot(profileId, version)
  )

describe("the LLM service failing, in jobs", () => {
  it.scopedLive("500 on every request: the job fails after its attempts, no post failed", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({ script: () => ({ kind: "status", status: 500 }) })
      const layer = yield* library(server, {}, { postConcurrency: 2 })

      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const { profile } = yield* api.importProfile("alice", ownProfile("down", captions))
        const job = yield* api.submit("alice", profile.id, { maxAttempts: 3 })
        const done = yield* api.awaitJob("alice", job.id, { interval: "20 millis" })

        expect(done.status).toBe("failed")
        expect(done.attempt).toBe(3)
        expect(done.lastError).toMatch(/analyzer's service failed on attempt 3 of 3/)
        expect(done.lastError).toMatch(/Unavailable: 500 from the server/)
        expect(done.failed).toBe(0)
        expect((yield* stored(profile.id)).analyses).toHaveLength(0)
        // Per attempt at most postConcurrency posts in flight, each at most
        // (1 + maxRetries) × (1 + postRetries) requests: 2 × 2 × 2 = 8.
        expect(server.calls().length).toBeGreaterThanOrEqual(3)
        expect(server.calls().length).toBeLessThanOrEqual(3 * 8)
      }).pipe(Effect.provide(layer))
    }))

  it.scopedLive("500 for the first 10 requests, then healthy: the job succeeds on its own", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) =>
          request.index <= 10 ? { kind: "status", status: 500 } : Fake.valid(request)
      })
      const layer = yield* library(server, {}, { postConcurrency: 2 })

      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const { profile } = yield* api.importProfile("alice", ownProfile("flaky", captions))
        const job = yield* api.submit("alice", profile.id, { maxAttempts: 10 })
        const done = yield* api.awaitJob("alice", job.id, { interval: "20 millis" })

        expect(done.status).toBe("succeeded")
        expect(done.attempt).toBeGreaterThan(1)
        expect(done.lastError).toBeNull()
        expect((yield* api.insights("alice", profile.id)).posts).toEqual({
          total: 6,
          analysed: 6,
          failed: 0
        })
        const { analyses } = yield* stored(profile.id)
        expect(analyses.every((a) => a.outcome._tag === "Analysed")).toBe(true)
      }).pipe(Effect.provide(layer))
    }))

  it.scopedLive("a transient failure stored by an older version is analysed again", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({ script: Fake.valid })
      const layer = yield* library(server, {})

      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const sql = yield* SqlClient.SqlClient
        const { profile } = yield* api.importProfile("alice", ownProfile("old", captions))
        const { posts } = yield* stored(profile.id)
        // As versions that recorded the service's failures as the post's
        // left them: one Unavailable, one Timeout, one permanent failure.
        const failure = (postId: string, reason: string) => ({
          post_id: postId,
          analyzer_version: version,
          analyzer_id: "openai",
          profile_id: profile.id,
          job_id: null,
          status: "failed",
          result: null,
          failure: JSON.stringify({ reason, message: "from before", attempts: 4 }),
          analyzed_at: 1
        })
        yield* sql`INSERT INTO pi_post_analyses ${sql.insert([
          failure(posts[0]!.id, "Unavailable"),
          failure(posts[1]!.id, "Timeout"),
          failure(posts[2]!.id, "InvalidOutput")
        ])}`

        const job = yield* api.submit("alice", profile.id)
        const done = yield* api.awaitJob("alice", job.id, { interval: "20 millis" })
        expect(done.status).toBe("succeeded")
        // The two transient ones and the three never analysed; the post's
        // own failure stays as it was.
        expect(server.calls()).toHaveLength(5)
        expect(server.callsFor(posts[2]!.caption)).toBe(0)
        expect((yield* api.insights("alice", profile.id)).posts).toEqual({
          total: 6,
          analysed: 5,
          failed: 1
        })
        expect(done.done).toBe(5)
        expect(done.failed).toBe(1)
      }).pipe(Effect.provide(layer))
    }))

  it.scopedLive("429 with Retry-After: 3600: one request, the job queued for an hour", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: () => ({ kind: "status", status: 429, headers: { "retry-after": "3600" } })
      })
      const layer = yield* library(server, {}, { postConcurrency: 1, postRetries: 3 })

      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const { profile } = yield* api.importProfile("alice", ownProfile("limited", captions))
        const job = yield* api.submit("alice", profile.id)
        const start = yield* Clock.currentTimeMillis
        let status = yield* api.status("alice", job.id)
        while (status.lastError === null) {
          yield* Effect.sleep("20 millis")
          status = yield* api.status("alice", job.id)
        }
        expect(status.status).toBe("queued")
        expect(status.lastError).toMatch(/RateLimited: 429 from the server/)
        expect(status.runAfter.getTime()).toBeGreaterThanOrEqual(start + 3_600_000 - 1_000)
        yield* Effect.sleep("200 millis")
        expect(server.calls()).toHaveLength(1)
        expect((yield* stored(profile.id)).analyses).toHaveLength(0)
      }).pipe(Effect.provide(layer))
    }))

  it.scopedLive("the circuit opens: the attempt ends at once, the job waits out the cool-down", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({ script: () => ({ kind: "status", status: 503 }) })
      const layer = yield* library(
        server,
        { breakerThreshold: 2, breakerCoolDown: "5 minutes", maxRetries: 3 },
        { postConcurrency: 4, postRetries: 3 }
      )

      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const { profile } = yield* api.importProfile("alice", ownProfile("open", captions))
        const job = yield* api.submit("alice", profile.id)
        const start = yield* Clock.currentTimeMillis
        let status = yield* api.status("alice", job.id)
        while (status.status !== "queued" || status.lastError === null) {
          yield* Effect.sleep("20 millis")
          status = yield* api.status("alice", job.id)
        }
        expect((yield* Clock.currentTimeMillis) - start).toBeLessThan(5_000)
        expect(status.lastError).toMatch(/paused after consecutive failures/)
        expect(status.runAfter.getTime()).toBeGreaterThanOrEqual(start + 4 * 60_000)
        // Only the requests that opened it (two, or a few already in flight).
        expect(server.calls().length).toBeLessThanOrEqual(4)
      }).pipe(Effect.provide(layer))
    }))
})
