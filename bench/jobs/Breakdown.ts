/**
 * Where the time goes, through the library's own stores with no runner:
 * each store operation of a one-post job timed on its own, a round trip
 * through the SqlClient, and JobStore.checkpoint called directly.
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer, Option } from "effect"
import { Insights, type Job, JobStore, PostAnalysis, ProfileStore } from "../../src/index.js"
import { writeTransaction } from "../../src/store/Dialect.js"
import {
  importProfiles,
  library,
  makeProbe,
  median,
  owner,
  pgQueries,
  type Store,
  timeIt
} from "./Harness.js"
import * as NoopAnalyzer from "./NoopAnalyzer.js"
import { settings } from "./Settings.js"

export interface StoreBreakdown {
  /** Median milliseconds of each operation, in the order a job makes them. */
  readonly operations: Record<string, number>
  /** Postgres: statements each operation sends, BEGIN and COMMIT included, and its COMMITs. */
  readonly statements: Record<string, { readonly statements: number; readonly commits: number }>
  /** Median milliseconds. */
  readonly sqlClient: { readonly roundTrip: number; readonly emptyWriteTransaction: number }
  /** JobStore.checkpoint called directly over one job's posts, posts per second, by concurrency. */
  readonly directCheckpoint: Record<string, number>
}

/** The operations on the pickup path, in order; then what follows them. */
export const pickupPath = ["submit", "claim", "load profile", "snapshot", "begin"] as const

const analysisOf = (postId: string) =>
  new PostAnalysis({
    postId,
    analyzerId: "bench-noop",
    analyzerVersion: NoopAnalyzer.version,
    outcome: { _tag: "Analysed", result: NoopAnalyzer.result },
    analyzedAt: new Date()
  })

const operations = (
  api: Insights.InsightsShape,
  jobs: JobStore.JobStoreShape,
  profiles: ProfileStore.ProfileStoreShape,
  store: Store
) =>
  Effect.gen(function* () {
    const ids = yield* importProfiles(api, `${store.name}-ops`, settings.operationJobs, 1)
    const times = new Map<string, Array<number>>()
    const statements = new Map<string, { statements: number; commits: number }>()
    const timed = <A, E>(name: string, effect: Effect.Effect<A, E>) =>
      Effect.gen(function* () {
        const before = pgQueries()
        const [millis, value] = yield* timeIt(effect)
        const after = pgQueries()
        statements.set(name, {
          statements: after.statements - before.statements,
          commits: after.commits - before.commits
        })
        times.set(name, [...(times.get(name) ?? []), millis])
        return value
      })

    for (const profileId of ids) {
      const job = yield* timed("submit", jobs.submit({ owner, profileId, kind: "analyze" }))
      const claimed = yield* timed("claim", jobs.claim("bench", 15_000))
      const running = Option.getOrThrow(claimed)
      if (running.id !== job.id) return yield* Effect.dieMessage("claimed another job")
      const lease = { jobId: running.id, epoch: running.epoch }
      yield* timed("load profile", profiles.get(owner, profileId))
      const snap = yield* timed("snapshot", profiles.snapshot(profileId, NoopAnalyzer.version))
      yield* timed("begin", jobs.begin(lease, { total: 1, done: 0, failed: 0 }))
      yield* timed("checkpoint", jobs.checkpoint(lease, profileId, analysisOf(snap.posts[0]!.id)))
      yield* timed("heartbeat", jobs.heartbeat(lease, 15_000))
    }
    return {
      operations: Object.fromEntries([...times].map(([name, xs]) => [name, median(xs)])),
      statements: store.name === "postgres" ? Object.fromEntries(statements) : {}
    }
  })

const directCheckpoints = (
  api: Insights.InsightsShape,
  jobs: JobStore.JobStoreShape,
  profiles: ProfileStore.ProfileStoreShape,
  store: Store
) =>
  Effect.gen(function* () {
    const rates: Record<string, number> = {}
    for (const concurrency of settings.concurrencies) {
      const posts = settings.checkpointPosts
      const [profileId] = yield* importProfiles(api, `${store.name}-direct-${concurrency}`, 1, posts)
      yield* jobs.submit({ owner, profileId: profileId!, kind: "analyze" })
      const job: Job = Option.getOrThrow(yield* jobs.claim("bench", 600_000))
      const snap = yield* profiles.snapshot(job.profileId, NoopAnalyzer.version)
      const lease = { jobId: job.id, epoch: job.epoch }
      const [millis] = yield* timeIt(
        Effect.forEach(
          snap.posts,
          (post) => jobs.checkpoint(lease, job.profileId, analysisOf(post.id)),
          { concurrency, discard: true }
        )
      )
      rates[concurrency] = snap.posts.length / (millis / 1000)
    }
    return rates
  })

const sqlClient = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const one: Array<number> = []
  const empty: Array<number> = []
  for (let i = 0; i < settings.roundTrips; i++) {
    one.push((yield* timeIt(sql`SELECT 1`))[0])
    empty.push((yield* timeIt(writeTransaction(sql)(Effect.void)))[0])
  }
  return { roundTrip: median(one), emptyWriteTransaction: median(empty) }
})

export const run = (store: Store) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(library(store, makeProbe().layer, "no runner"))
    const api = Context.get(context, Insights.Insights)
    const jobs = Context.get(context, JobStore.JobStore)
    const profiles = Context.get(context, ProfileStore.ProfileStore)
    return {
      ...(yield* operations(api, jobs, profiles, store)),
      sqlClient: yield* Effect.provide(sqlClient, store.layer),
      directCheckpoint: yield* directCheckpoints(api, jobs, profiles, store)
    } satisfies StoreBreakdown
  }).pipe(Effect.scoped)
