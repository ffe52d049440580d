/**
 * Shared set-up of the health suites: the stores and Health over a fresh
 * database, profiles, finishing a job through the store, and repairs
 * written the way the repairer records them.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer, Metric, Schema } from "effect"
import {
  Aggregate,
  Insights,
  JobStore,
  ProfileImport,
  ProfileStore
} from "../../src/index.js"
import * as Health from "../../src/Health.js"
import { ownProfile } from "../support/Fixtures.js"
import type { StorageLayer } from "../support/Storage.js"

/** The library without a runner, Health, and the SqlClient, over one database. */
export const storesLayer = (storage: StorageLayer, health: Health.HealthOptions = {}) => {
  const stores = Insights.layerWithoutRunner.pipe(Layer.provideMerge(storage))
  return Health.layer(health).pipe(Layer.provideMerge(stores))
}

export const profileWith = (handle: string, posts = 2) =>
  Effect.flatMap(ProfileStore.ProfileStore, (profiles) =>
    Effect.map(
      profiles.save(
        "alice",
        Schema.decodeUnknownSync(ProfileImport)(
          ownProfile(handle, Array.from({ length: posts }, (_, i) => `post ${i}`))
        )
      ),
      (saved) => saved.profile.id
    )
  )

/** Completes a claimed job with an aggregate of no analyses. */
export const succeed = (lease: JobStore.Lease, profileId: string) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore.JobStore
    const profiles = yield* ProfileStore.ProfileStore
    const profile = yield* profiles.get("alice", profileId)
    const { posts } = yield* profiles.snapshot(profileId, "v1")
    const now = yield* Clock.currentTimeMillis
    yield* jobs.complete(
      lease,
      Aggregate.aggregate({
        profile,
        posts,
        analyses: [],
        analyzerId: "test",
        analyzerVersion: "v1",
        now: new Date(now)
      })
    )
  })

/** A row of pi_repairs as the repairer writes it, at the clock's time. */
export const recordRepair = (repair: {
  readonly runId: string
  readonly violation: string
  readonly action?: string
  readonly profileId?: string
}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    yield* sql`INSERT INTO pi_repairs ${sql.insert({
      id: crypto.randomUUID(),
      run_id: repair.runId,
      actor: "test",
      violation: repair.violation,
      action: repair.action ?? "submitted-job",
      profile_id: repair.profileId ?? null,
      job_id: null,
      post_ids: "[]",
      reason: `${repair.violation} found by the test`,
      detail: "{}",
      created_at: now
    })}`
  }).pipe(Effect.orDie)

/** The value of a counter now. */
export const counterValue = (
  counter: Metric.Metric.Counter<number>
): Effect.Effect<number> => Effect.map(Metric.value(counter), (s) => s.count)
