/**
 * Throughput: one job of many posts, no-op analyzer, at a given post
 * concurrency, through the whole library (submit, runner, store).
 */
import { Context, Effect, Layer } from "effect"
import { Insights, type Job, isTerminal } from "../../src/index.js"
import {
  cpuMeter,
  importProfiles,
  library,
  makeProbe,
  owner,
  pgQueries,
  type Store
} from "./Harness.js"
import { settings } from "./Settings.js"

export interface ThroughputResult {
  readonly store: Store["name"]
  readonly concurrency: number
  readonly posts: number
  /**
   * Posts checkpointed per second: the job's progress counter, which
   * advances as checkpoints commit, read every 10 ms, between 10% and
   * 90% of the posts.
   */
  readonly checkpointRate: number
  /** Posts per second from submit to the job's finish. */
  readonly jobRate: number
  /** Milliseconds. */
  readonly phases: {
    /** Submit to the first analyzer call: claim, load, snapshot, begin. */
    readonly start: number
    /** First to last analyzer call. */
    readonly analyse: number
    /** Last analyzer call to the finish: last checkpoints, snapshot, aggregate, complete. */
    readonly finish: number
  }
  /** CPU milliseconds per post, over the whole job. */
  readonly cpuPerPost: { readonly node: number; readonly postgres: number }
  /** CPU time over wall time of the whole job: cores kept busy. */
  readonly cores: { readonly node: number; readonly postgres: number }
  /**
   * Postgres: statements and COMMITs the job sent, from submit to finish
   * (claim, begin, heartbeats and complete included; the bench's own
   * progress reads left out).
   */
  readonly sent?: { readonly statements: number; readonly commits: number } | undefined
}

export const run = (store: Store, concurrency: number) =>
  Effect.gen(function* () {
    const probe = makeProbe()
    const runner = { postConcurrency: concurrency }
    const context = yield* Layer.build(library(store, probe.layer, runner))
    const api = Context.get(context, Insights.Insights)
    const posts = settings.throughputPosts
    const [profileId] = yield* importProfiles(api, `${store.name}-tp-${concurrency}`, 1, posts)
    yield* Effect.sleep("100 millis")

    probe.resetCalls()
    const cpu = cpuMeter(store)
    const queries = pgQueries()
    const submittedAt = Date.now()
    const t0 = performance.now()
    const job = yield* api.submit(owner, profileId!)
    const progress: Array<{ readonly at: number; readonly posts: number }> = []
    let done: Job = job
    while (!isTerminal(done.status)) {
      yield* Effect.sleep("10 millis")
      done = yield* api.status(owner, job.id)
      progress.push({ at: performance.now(), posts: done.done + done.failed })
    }
    const used = cpu()
    const sent = pgQueries()
    if (done.status !== "succeeded") {
      return yield* Effect.dieMessage(`job ${job.id} ended ${done.status}: ${done.lastError}`)
    }

    const calls = probe.calls()
    if (calls.length !== posts) {
      return yield* Effect.dieMessage(`expected ${posts} analyzer calls, saw ${calls.length}`)
    }
    const total = done.finishedAt!.getTime() - submittedAt
    const first = calls[0]! - t0
    const last = calls[calls.length - 1]! - t0
    const from = progress.find((p) => p.posts >= posts * 0.1)
    const to = [...progress].reverse().find((p) =>
      p.posts <= posts * 0.9 && p.posts > (from?.posts ?? posts)
    )
    const checkpointRate = from !== undefined && to !== undefined
      ? (to.posts - from.posts) / ((to.at - from.at) / 1000)
      : posts / ((last - first) / 1000)
    return {
      store: store.name,
      concurrency,
      posts,
      checkpointRate,
      jobRate: posts / (total / 1000),
      phases: { start: first, analyse: last - first, finish: total - last },
      cpuPerPost: { node: used.node / posts, postgres: used.postgres / posts },
      cores: { node: used.node / total, postgres: used.postgres / total },
      sent: store.name === "postgres"
        ? {
          statements: sent.statements - queries.statements - progress.length,
          commits: sent.commits - queries.commits
        }
        : undefined
    } satisfies ThroughputResult
  }).pipe(Effect.scoped)
