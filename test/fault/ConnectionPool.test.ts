/**
 * More jobs than connections: four jobs run at once on a pool of three
 * while the analyzer takes 2 seconds a post. A job holds a connection only
 * for each short transaction, never across an analyzer call, so status
 * reads keep answering, and when the work is done every connection is
 * idle; once the layer is closed, none is left.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Schedule } from "effect"
import { Insights, isTerminal, type Job } from "../../src/index.js"
import {
  busy,
  listening,
  type PgBackend,
  pgProbe,
  pooled,
  sqliteWriteLockFree
} from "../support/ConnectionProbe.js"
import { adapters } from "../support/FaultDatabase.js"
import { libraryLayer, ownProfile } from "../support/Fixtures.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { waitUntil } from "../support/WorkerProcess.js"

const poolSize = 3
const jobCount = 4
const captions = ["good food slow-2000", "sad day slow-2000"]

interface Sample {
  readonly latencies: ReadonlyArray<number>
  readonly running: number
  /** Postgres: connections of the pool, and the one LISTEN connection. */
  readonly pooled: number
  readonly listening: number
}

describe.each(adapters)("a pool smaller than the jobs on $name", (adapter) => {
  it.live(`${jobCount} jobs on ${poolSize} connections: reads answer, nothing is held`, () =>
    Effect.gen(function* () {
      const database = yield* adapter.fresh
      const spec = database.spec
      const probe = spec.kind === "postgres" ? yield* pgProbe(spec.url) : undefined
      const connections: Effect.Effect<ReadonlyArray<PgBackend>> =
        probe?.backends ?? Effect.succeed([])
      const analyzer = yield* ScriptedAnalyzer.make()
      const layer = libraryLayer(
        database.layer({ maxConnections: poolSize }),
        analyzer.layer,
        {
          jobConcurrency: jobCount,
          postConcurrency: 1,
          leaseDuration: "2 seconds",
          pollInterval: "100 millis"
        }
      )

      const samples = yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const jobs = yield* Effect.forEach(
          Array.from({ length: jobCount }, (_, i) => i),
          (i) =>
            api.importProfile("alice", ownProfile(`pool-${i}`, captions)).pipe(
              Effect.flatMap(({ profile }) => api.submit("alice", profile.id))
            )
        )
        const sample = Effect.gen(function* () {
          const timed = yield* Effect.forEach(jobs, (job) =>
            Effect.timed(api.status("alice", job.id))
          )
          return {
            latencies: timed.map(([duration]) => Math.round(Duration.toMillis(duration))),
            running: timed.filter(([, job]) => job.status === "running").length,
            pooled: pooled(yield* connections).length,
            listening: listening(yield* connections).length
          } satisfies Sample
        })
        const collected: Array<Sample> = []
        const sampler = yield* sample.pipe(
          Effect.tap((s) => Effect.sync(() => collected.push(s))),
          Effect.repeat(Schedule.spaced("200 millis")),
          Effect.fork
        )
        const finished = yield* waitUntil(
          "every job to end",
          Effect.forEach(jobs, (job) => api.status("alice", job.id)),
          (all: ReadonlyArray<Job>) => all.every((j) => isTerminal(j.status)),
          { timeout: "20 seconds", interval: "100 millis" }
        )
        yield* Fiber.interrupt(sampler)
        expect(finished.map((j) => [j.status, j.done, j.total])).toEqual(
          jobs.map(() => ["succeeded", 2, 2])
        )

        // Idle at the end: a connection left busy (a transaction left open,
        // a statement never finished) would stay busy the whole while.
        if (probe !== undefined) {
          yield* waitUntil(
            "every connection of the pool to be idle",
            connections,
            (backends) => busy(backends).length === 0,
            { timeout: "3 seconds", interval: "20 millis" }
          )
          const stuck = (yield* connections).filter(
            (b) => b.state !== "idle" && b.stateAgeMillis > 1000
          )
          expect(stuck).toEqual([])
        } else {
          yield* waitUntil(
            "the SQLite write lock to be free",
            sqliteWriteLockFree((spec as { filename: string }).filename),
            (free) => free,
            { timeout: "3 seconds", interval: "20 millis" }
          )
        }
        return collected
      }).pipe(Effect.provide(layer))

      const latencies = samples.flatMap((s) => s.latencies)
      const maxLatency = Math.max(...latencies)
      const maxPooled = Math.max(...samples.map((s) => s.pooled))
      const maxListening = Math.max(...samples.map((s) => s.listening))
      const mostRunning = Math.max(...samples.map((s) => s.running))
      console.log(
        `[${adapter.name}] ${latencies.length} status reads in ${samples.length} rounds, ` +
          `slowest ${maxLatency} ms; at most ${mostRunning} jobs running at once` +
          (probe === undefined
            ? ""
            : `, at most ${maxPooled} pooled connections and ${maxListening} listening`)
      )
      expect(samples.length).toBeGreaterThanOrEqual(5)
      expect(maxLatency).toBeLessThan(1000)
      expect(mostRunning).toBe(jobCount)
      if (probe !== undefined) {
        expect(maxPooled).toBeLessThanOrEqual(poolSize)
        expect(maxListening).toBeLessThanOrEqual(1)
        // The layer is closed: the pool has ended every connection.
        yield* waitUntil(
          "the pool's connections to close",
          probe.backends,
          (backends) => backends.length === 0,
          { timeout: "3 seconds", interval: "20 millis" }
        )
      } else {
        expect(yield* sqliteWriteLockFree((spec as { filename: string }).filename)).toBe(true)
      }
    }).pipe(Effect.scoped), { timeout: 45_000 })
})
