/**
 * Worker processes for the fault suites, and waiting on conditions with a
 * bound.
 *
 * `spawn` starts test/support/WorkerMain.ts as a real child process
 * (node running its bundle) in the current scope; closing the scope kills
 * whatever is still running. `waitUntil` polls a probe until a predicate
 * holds and fails with the last value seen when the bound runs out.
 */
import { Data, Deferred, Duration, Effect, Option, Ref, Schedule, type Scope } from "effect"
import { type ChildProcess, spawn as spawnChild } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Bundle from "./Bundle.js"

export type StorageSpec =
  | { readonly kind: "sqlite"; readonly filename: string }
  | {
    readonly kind: "postgres"
    readonly url: string
    readonly maxConnections?: number | undefined
  }

export interface WorkerConfig {
  readonly storage: StorageSpec
  readonly runner: {
    readonly leaseMillis: number
    /** Default: a third of the lease. */
    readonly heartbeatMillis?: number | undefined
    readonly pollMillis: number
    readonly jobConcurrency: number
    readonly postConcurrency: number
  }
  readonly analyzer: {
    /** How long each analyzer call sleeps. */
    readonly delayMillis: number
    /** Every call appends "<pid> <postId> <started ms>" here. */
    readonly callsFile: string
    readonly version?: string | undefined
  }
}

export class WaitTimeout extends Data.TaggedError("WaitTimeout")<{
  readonly what: string
  readonly after: string
  readonly last: string
}> {
  override get message(): string {
    return `timed out after ${this.after} waiting for ${this.what}; last seen: ${this.last}`
  }
}

const show = (value: unknown): string => {
  if (value === undefined) return "nothing"
  const text = typeof value === "string" ? value : JSON.stringify(value)
  return text.length > 2000 ? `${text.slice(0, 2000)}...` : text
}

/**
 * Runs `probe` every `interval` (default 25 ms) until `done` holds for its
 * value, and returns that value; fails with WaitTimeout, naming `what` and
 * the last value, once `timeout` has passed.
 */
export const waitUntil = <A, E, R>(
  what: string,
  probe: Effect.Effect<A, E, R>,
  done: (value: A) => boolean,
  options: {
    readonly timeout: Duration.DurationInput
    readonly interval?: Duration.DurationInput | undefined
  }
): Effect.Effect<A, E | WaitTimeout, R> =>
  Effect.gen(function* () {
    const last = yield* Ref.make<Option.Option<A>>(Option.none())
    return yield* probe.pipe(
      Effect.tap((value) => Ref.set(last, Option.some(value))),
      Effect.repeat({
        until: done,
        schedule: Schedule.spaced(options.interval ?? "25 millis")
      }),
      // The schedule's output is a count: the value is the last one seen.
      Effect.zipRight(Effect.map(Ref.get(last), Option.getOrThrow)),
      Effect.timeout(options.timeout),
      Effect.catchTag("TimeoutException", () =>
        Effect.flatMap(Ref.get(last), (seen) =>
          Effect.fail(
            new WaitTimeout({
              what,
              after: Duration.format(Duration.decode(options.timeout)),
              last: show(Option.getOrUndefined(seen))
            })
          )
        )
      )
    )
  })

/** One analyzer call as recorded in a calls file. */
export interface Call {
  readonly pid: number
  readonly postId: string
  /** When the call started, epoch milliseconds. */
  readonly startedAt: number
}

/** A path for a new calls file, in a fresh temporary directory. */
export const tempCallsFile = (): string =>
  join(mkdtempSync(join(tmpdir(), "profile-insights-calls-")), "calls.log")

/** The calls recorded so far; none when the file does not exist yet. */
export const readCalls = (file: string): Effect.Effect<ReadonlyArray<Call>> =>
  Effect.sync(() =>
    existsSync(file)
      ? readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
          const [pid, postId, startedAt] = line.split(" ")
          return { pid: Number(pid), postId: postId ?? "", startedAt: Number(startedAt) }
        })
      : []
  )

export interface ProcessExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Worker {
  readonly name: string
  readonly pid: number
  /** Everything printed so far, stdout and stderr, as lines. */
  readonly lines: Effect.Effect<ReadonlyArray<string>>
  readonly output: Effect.Effect<string>
  /** Writes one line to the worker's stdin. */
  readonly send: (line: string) => Effect.Effect<void>
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** The first line printed so far or later that matches, within `timeout`. */
  readonly waitForLine: (
    pattern: RegExp,
    timeout: Duration.DurationInput
  ) => Effect.Effect<string, WaitTimeout>
  /** Waits for the process to end. */
  readonly exited: Effect.Effect<ProcessExit>
  readonly hasExited: Effect.Effect<boolean>
}

const repoRoot = Bundle.repoRoot

/**
 * A worker runs as `node <bundle>` (see Bundle.ts): the worker and the
 * library bundled with esbuild, 0.4 s to ready instead of 2 to 5 s through
 * the tsx loader. PROFILE_INSIGHTS_FAULT_TSX=1 runs
 * `node --import tsx WorkerMain.ts` instead.
 */
const nodeArguments = Effect.promise(() =>
  Bundle.nodeArguments(
    "worker",
    [{
      cache: "profile-insights-fault",
      entries: { worker: join(repoRoot, "test", "support", "WorkerMain.ts") },
      sources: ["src", "adapters", join("test", "support")]
    }],
    "PROFILE_INSIGHTS_FAULT_TSX"
  )
)

const makeWorker = (
  name: string,
  child: ChildProcess,
  exit: Deferred.Deferred<ProcessExit>
): Worker => {
  const printed: Array<string> = []
  const partial = { out: "", err: "" }
  const collect = (stream: "out" | "err") => (chunk: Buffer) => {
    const text = partial[stream] + chunk.toString("utf8")
    const parts = text.split("\n")
    partial[stream] = parts.pop() ?? ""
    printed.push(...parts)
  }
  child.stdout?.on("data", collect("out"))
  child.stderr?.on("data", collect("err"))
  const lines = Effect.sync(() => {
    const tails = [partial.out, partial.err].filter((t) => t !== "")
    return [...printed, ...tails]
  })
  return {
    name,
    pid: child.pid!,
    lines,
    output: Effect.map(lines, (all) => all.join("\n")),
    send: (line) =>
      Effect.async<void>((resume) => {
        child.stdin?.write(`${line}\n`, () => resume(Effect.void))
      }),
    signal: (signal) => Effect.sync(() => void child.kill(signal)),
    waitForLine: (pattern, timeout) =>
      waitUntil(
        `${name} to print ${pattern}`,
        Effect.map(lines, (all) => all.find((line) => pattern.test(line))),
        (line) => line !== undefined,
        { timeout, interval: "20 millis" }
      ).pipe(
        Effect.map((line) => line!),
        Effect.mapError((e) =>
          new WaitTimeout({ ...e, last: printed.slice(-20).join("\n") })
        )
      ),
    exited: Deferred.await(exit),
    hasExited: Deferred.isDone(exit)
  }
}

/**
 * Starts a worker process in the current scope and waits until it is
 * ready (its layer is built), within `readyTimeout` (default 20 seconds).
 * Closing the scope SIGKILLs it if it still runs; when the scope closes
 * with a failure, the worker's last output is printed.
 */
export const spawn = (
  name: string,
  config: WorkerConfig,
  readyTimeout: Duration.DurationInput = "20 seconds"
): Effect.Effect<Worker, WaitTimeout, Scope.Scope> =>
  Effect.gen(function* () {
    const exit = yield* Deferred.make<ProcessExit>()
    const command = yield* nodeArguments
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawnChild(
          process.execPath,
          [...command, JSON.stringify(config)],
          { cwd: repoRoot, env: process.env, stdio: ["pipe", "pipe", "pipe"] }
        )
        child.on("exit", (code, signal) => {
          Deferred.unsafeDone(exit, Effect.succeed({ code, signal }))
        })
        return { child, worker: makeWorker(name, child, exit) }
      }),
      ({ child, worker }, scopeExit) =>
        Effect.gen(function* () {
          if (scopeExit._tag === "Failure") {
            const tail = (yield* worker.lines).slice(-40).join("\n")
            console.error(`--- last output of worker ${name} (pid ${worker.pid}) ---\n${tail}`)
          }
          if (yield* Deferred.isDone(exit)) return
          child.kill("SIGKILL")
          yield* Deferred.await(exit).pipe(Effect.timeout("5 seconds"), Effect.ignore)
        })
    )
    yield* worker.worker.waitForLine(/^ready pid=/, readyTimeout)
    return worker.worker
  })

/** Whether a process is stopped (SIGSTOP): state T in /proc. */
export const isStopped = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
    return state === "T" || state === "t"
  } catch {
    return false
  }
}
