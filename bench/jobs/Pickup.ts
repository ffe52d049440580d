/**
 * Pickup latency: from just before submit, on an idle queue, to the first
 * analyzer call of the job. One profile with one post per sample; each
 * job finishes before the next submit, and the runner is left idle for a
 * few milliseconds, so every sample starts from a runner that waits.
 *
 * In-process: the runner shares the submitter's process and is woken by
 * the in-process signal. Cross-process: the runner is a child process
 * (RunnerChild.ts) woken by LISTEN/NOTIFY on Postgres, by its poll on
 * SQLite; it stamps the analyzer call with the wall clock, which both
 * processes read from the same host.
 */
import { Context, Deferred, Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Insights } from "../../src/index.js"
import {
  awaitDone,
  importProfiles,
  library,
  makeProbe,
  owner,
  type Store,
  summary,
  type Summary,
  wallClock
} from "./Harness.js"
import { settings } from "./Settings.js"

const here = path.dirname(fileURLToPath(import.meta.url))

export interface PickupResult {
  readonly store: Store["name"]
  readonly mode: "in-process" | "cross-process"
  readonly wake: string
  /** Submit to the first analyzer call, milliseconds. */
  readonly pickup: Summary
  /** How long submit itself took, milliseconds. */
  readonly submit: Summary
  /**
   * Cross-process: the child's clock minus ours, from the ping with the
   * shortest round trip, true to half that round trip. Not subtracted.
   */
  readonly clockOffset?: { readonly millis: number; readonly roundTrip: number } | undefined
}

interface Sample {
  readonly pickup: number
  readonly submit: number
}

const sampleAll = (
  profileIds: ReadonlyArray<string>,
  warmup: number,
  sample: (profileId: string) => Effect.Effect<Sample, unknown>
) =>
  Effect.gen(function* () {
    const pickups: Array<number> = []
    const submits: Array<number> = []
    for (const [i, profileId] of profileIds.entries()) {
      const measured = yield* sample(profileId)
      if (i >= warmup) {
        pickups.push(measured.pickup)
        submits.push(measured.submit)
      }
      yield* Effect.sleep(settings.pickupGapMillis)
    }
    return { pickup: summary(pickups), submit: summary(submits) }
  })

/** Submits and waits for the stamp, then for the job to finish. */
const sampleOne = (
  api: Insights.InsightsShape,
  profileId: string,
  now: () => number,
  started: Deferred.Deferred<number>
) =>
  Effect.gen(function* () {
    const t0 = now()
    const job = yield* api.submit(owner, profileId)
    const submitted = now()
    const first = yield* Deferred.await(started).pipe(
      Effect.timeoutFail({
        duration: "5 seconds",
        onTimeout: () => new Error(`job ${job.id} was not picked up within 5 s`)
      })
    )
    yield* awaitDone(api, job.id, "1 millis")
    return { pickup: first - t0, submit: submitted - t0 }
  })

export const inProcess = (store: Store) =>
  Effect.gen(function* () {
    const probe = makeProbe()
    const context = yield* Layer.build(library(store, probe.layer, {}))
    const api = Context.get(context, Insights.Insights)
    const count = settings.pickupSamples + settings.pickupWarmup
    const ids = yield* importProfiles(api, `${store.name}-pickup`, count, 1)
    yield* Effect.sleep("100 millis")

    const measured = yield* sampleAll(ids, settings.pickupWarmup, (profileId) =>
      Effect.flatMap(probe.expect(profileId), (started) =>
        sampleOne(api, profileId, () => performance.now(), started)
      )
    )
    return {
      store: store.name,
      mode: "in-process",
      wake: store.name === "postgres"
        ? "in-process signal (and LISTEN/NOTIFY)"
        : "in-process signal",
      ...measured
    } satisfies PickupResult
  }).pipe(Effect.scoped)

export const crossProcess = (store: Store, samples: number, warmup: number) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(library(store, makeProbe().layer, "no runner"))
    const api = Context.get(context, Insights.Insights)
    const count = samples + warmup
    const ids = yield* importProfiles(api, `${store.name}-cross`, count, 1)
    const child = yield* runnerChild(store)
    const clockOffset = yield* child.clockOffset
    yield* Effect.sleep("200 millis")

    const measured = yield* sampleAll(ids, warmup, (profileId) =>
      Effect.flatMap(child.expectStart(profileId), (started) =>
        sampleOne(api, profileId, wallClock, started)
      )
    )
    return {
      store: store.name,
      mode: "cross-process",
      wake: store.name === "postgres" ? "LISTEN/NOTIFY" : "poll (1 s, no wake-up)",
      clockOffset,
      ...measured
    } satisfies PickupResult
  }).pipe(Effect.scoped)

/** Starts RunnerChild.ts for the scope, and routes its messages. */
const runnerChild = (store: Store) =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<void>()
    const starts = new Map<string, Deferred.Deferred<number>>()
    const pongs = new Map<string, Deferred.Deferred<number>>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(
          process.execPath,
          ["--import", "tsx", path.join(here, "RunnerChild.ts"), JSON.stringify(store.spec)],
          { cwd: path.resolve(here, "../.."), stdio: ["pipe", "pipe", "inherit"] }
        )
      ),
      stop
    )
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const [verb, key = "", value = ""] = line.trim().split(" ")
      if (verb === "ready") Deferred.unsafeDone(ready, Effect.void)
      const waiting = verb === "start" ? starts : verb === "pong" ? pongs : undefined
      const deferred = waiting?.get(key)
      if (deferred === undefined) return
      waiting!.delete(key)
      Deferred.unsafeDone(deferred, Effect.succeed(Number(value)))
    })
    yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new Error("the runner child did not start within 30 s")
      })
    )
    const expect = (map: Map<string, Deferred.Deferred<number>>, key: string) =>
      Effect.tap(Deferred.make<number>(), (d) => Effect.sync(() => map.set(key, d)))

    const clockOffset = Effect.gen(function* () {
      let best = { millis: 0, roundTrip: Infinity }
      for (let i = 0; i < 20; i++) {
        const pong = yield* expect(pongs, String(i))
        const sent = wallClock()
        child.stdin!.write(`ping ${i}\n`)
        const theirs = yield* Deferred.await(pong)
        const received = wallClock()
        if (received - sent < best.roundTrip) {
          best = { millis: theirs - (sent + received) / 2, roundTrip: received - sent }
        }
      }
      return best
    })
    return { expectStart: (profileId: string) => expect(starts, profileId), clockOffset }
  })

/** Closes the child's stdin, so it hands its jobs back; kills it after 10 s. */
const stop = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.stdin!.end()
  })
