/**
 * The promise client, as a host that does not use Effect calls it, on a
 * real SQLite file and a real Postgres database. The only fake is the
 * hosted LLM of the OpenAI analyzer, a real HTTP server on 127.0.0.1.
 */
import { Duration, Redacted } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { resolve } from "node:path"
import { promisify } from "node:util"
import {
  ClientClosed,
  type ClientOptions,
  createClient,
  type InsightsClient,
  InvalidInput,
  type Job,
  NotFound,
  type StorageChoice,
  StoreError
} from "../client/index.js"
import { openAiOptions } from "../client/ClientLayer.js"
import * as Bundle from "./support/Bundle.js"
import * as FakeChatServer from "./support/FakeChatServer.js"
import { ownProfile, twelveCaptions } from "./support/Fixtures.js"
import { freshPostgresDatabase, postgresAvailable, tempDatabase } from "./support/Storage.js"

const root = resolve(import.meta.dirname, "..")

/** A bound on every wait on a job's progress in this file. */
const bound = () => AbortSignal.timeout(30_000)

const storages: ReadonlyArray<{
  readonly name: string
  readonly available: boolean
  readonly fresh: () => Promise<StorageChoice>
}> = [
  { name: "sqlite", available: true, fresh: async () => ({ sqlite: tempDatabase() }) },
  {
    name: "postgres",
    available: postgresAvailable,
    fresh: async () => ({ postgres: await freshPostgresDatabase(), poolSize: 4 })
  }
]

/** Runs `call` and returns what it rejected with; fails the test if it resolved. */
const rejection = async (call: Promise<unknown>): Promise<unknown> => {
  try {
    await call
  } catch (error) {
    return error
  }
  throw new Error("expected the call to reject")
}

/** Some fields of an error, as a plain object a failed assertion can print. */
const fields = (error: unknown, ...names: ReadonlyArray<string>) =>
  Object.fromEntries(names.map((n) => [n, (error as Record<string, unknown>)[n]]))

/** The value of a Prometheus counter in a metrics text (0 when absent). */
const counter = (text: string, name: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? 0 : Number(line.slice(name.length + 1))
}

describe.each(storages.filter((s) => s.available))("the promise client on $name", (storage) => {
  const open: Array<InsightsClient> = []
  const fakes: Array<FakeChatServer.FakeChatServer> = []

  /** A client on `choice` with a runner that polls quickly; closed after the test. */
  const client = async (
    choice: StorageChoice,
    options: Omit<ClientOptions, "storage"> = {}
  ) => {
    const made = await createClient({
      storage: choice,
      runner: { pollInterval: "50 millis", postRetryBase: "5 millis" },
      ...options
    })
    open.push(made)
    return made
  }

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()))
    await Promise.all(fakes.splice(0).map((f) => f.close()))
  })

  /**
   * The OpenAI analyzer, through the public options, against a fake chat
   * server that answers the first `answered` requests at once and holds
   * the rest until `release()`.
   */
  const gatedAnalyzer = async (answered: number) => {
    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const fake = await FakeChatServer.start({
      script: async (request) => {
        if (request.index > answered) await gate
        return FakeChatServer.valid(request)
      }
    })
    fakes.push(fake)
    const analyzer = {
      openai: {
        baseUrl: fake.baseUrl,
        model: "fake-model",
        requestsPerMinute: Infinity,
        tokensPerMinute: Infinity,
        maxRetries: 0
      }
    } as const
    return { fake, analyzer, release }
  }

  it("imports, submits, watches to 100% and reads the insights", async () => {
    const insights = await client(await storage.fresh())
    const saved = await insights.importProfile("alice", ownProfile("cook", twelveCaptions))
    expect(saved.added).toBe(12)
    const job = await insights.submit("alice", saved.profile.id)
    expect(job.owner).toBe("alice")
    expect(job.status).toBe("queued")

    const seen: Array<Job> = []
    for await (const state of insights.watch("alice", job.id, { signal: bound() })) {
      seen.push(state)
    }
    const processed = seen.map((s) => s.processed)
    expect(processed).toEqual([...processed].sort((a, b) => a - b))
    const last = seen[seen.length - 1]!
    expect(last.status).toBe("succeeded")
    expect(last.percent).toBe(100)
    expect(last.progressLine).toBe("Progress: 100% (12/12 posts processed)")
    expect(seen.slice(0, -1).every((s) => s.status !== "succeeded")).toBe(true)

    const result = await insights.insights("alice", saved.profile.id)
    expect(result.profileId).toBe(saved.profile.id)
    expect(result.posts).toEqual({ total: 12, analysed: 12, failed: 0 })
    expect(result.sentiment.distribution).toEqual({
      positive: 8,
      neutral: 0,
      negative: 4,
      notComputed: 0
    })
    expect(result.watermark.analyses).toBe(12)
    expect(result.analyzerId).toBe("embedded")

    const latest = await insights.latestJob("alice", saved.profile.id)
    expect(latest?.id).toBe(job.id)
    expect(await insights.latestJob("bob", saved.profile.id)).toBeUndefined()
  })

  it("answers NotFound for another owner's job and insights", async () => {
    const insights = await client(await storage.fresh())
    const { profile } = await insights.importProfile("alice", ownProfile("cook", twelveCaptions))
    const job = await insights.submit("alice", profile.id)
    await insights.awaitJob("alice", job.id, { signal: bound() })

    for (const call of [
      insights.status("bob", job.id),
      insights.insights("bob", profile.id),
      insights.cancel("bob", job.id),
      insights.awaitJob("bob", job.id),
      insights.submit("bob", profile.id)
    ]) {
      const error = await rejection(call)
      expect(error).toBeInstanceOf(NotFound)
      expect((error as NotFound)._tag).toBe("NotFound")
    }
    const watched = await rejection((async () => {
      for await (const _ of insights.watch("bob", job.id)) {
        throw new Error("another owner's job yielded a state")
      }
    })())
    expect(watched).toBeInstanceOf(NotFound)
    expect(fields(watched, "_tag", "entity", "id")).toEqual({
      _tag: "NotFound",
      entity: "job",
      id: job.id
    })
    expect((await insights.status("alice", job.id)).status).toBe("succeeded")
  })

  it("rejects bad input with InvalidInput naming the field", async () => {
    const choice = await storage.fresh()
    const insights = await client(choice)
    const { profile } = await insights.importProfile("alice", ownProfile("cook", twelveCaptions))

    const priority = await rejection(insights.submit("alice", profile.id, { priority: 1.5 }))
    expect(priority).toBeInstanceOf(InvalidInput)
    expect(fields(priority, "_tag", "field")).toEqual({ _tag: "InvalidInput", field: "priority" })

    const owner = await rejection(insights.submit(" ", profile.id))
    expect(fields(owner, "_tag", "field")).toEqual({ _tag: "InvalidInput", field: "owner" })

    const bad = ownProfile("broken", ["one", "two"])
    const post = await rejection(insights.importProfile("alice", {
      ...bad,
      posts: [bad.posts[0], { ...bad.posts[1], likes: -3 }]
    }, "upload.json"))
    expect(post).toBeInstanceOf(InvalidInput)
    expect(fields(post, "source", "record", "field")).toEqual({
      source: "upload.json",
      record: "posts[1] (id broken-2)",
      field: "likes"
    })

    const interval = await rejection((async () => {
      for await (const _ of insights.watch("alice", "any", { intervalMillis: -5 })) break
    })())
    expect(fields(interval, "_tag", "source", "field")).toEqual({
      _tag: "InvalidInput",
      source: "watch",
      field: "intervalMillis"
    })

    const pg = await rejection(createClient({ storage: { postgres: "mysql://127.0.0.1/db" } }))
    expect(pg).toBeInstanceOf(InvalidInput)
    expect(fields(pg, "source", "field")).toEqual({
      source: "createClient",
      field: "storage.postgres"
    })

    const concurrency = await rejection(
      createClient({ storage: choice, analyzer: { openai: { concurrency: 0 } } })
    )
    expect(fields(concurrency, "_tag", "field")).toEqual({
      _tag: "InvalidInput",
      field: "analyzer.openai.concurrency"
    })

    // The runner's values: each refused naming its field, no client opened.
    const runnerCases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ jobConcurrency: 0 }, "runner.jobConcurrency"],
      [{ jobConcurrency: -1 }, "runner.jobConcurrency"],
      [{ jobConcurrency: 1.5 }, "runner.jobConcurrency"],
      [{ leaseDuration: "abc" }, "runner.leaseDuration"],
      [{ leaseDuration: 0 }, "runner.leaseDuration"],
      [{ pollInterval: "-5 seconds" }, "runner.pollInterval"],
      [{ postConcurrency: 0 }, "runner.postConcurrency"],
      [{ postRetries: -1 }, "runner.postRetries"],
      [{ runnerId: "" }, "runner.runnerId"]
    ]
    for (const [runner, field] of runnerCases) {
      const refused = await rejection(createClient({ storage: choice, runner: runner as never }))
      expect({ runner, refused: fields(refused, "_tag", "field") }).toEqual({
        runner,
        refused: { _tag: "InvalidInput", field }
      })
    }

    // A missing argument, as a JavaScript caller may leave it.
    const missing = await rejection(insights.submit("alice", undefined as never))
    expect(fields(missing, "_tag")).toEqual({ _tag: "InvalidInput" })
  })

  it("leaves the job running to completion when the caller stops watching", async () => {
    const { analyzer, release } = await gatedAnalyzer(2)
    const insights = await client(await storage.fresh(), { analyzer })
    const { profile } = await insights.importProfile("alice", ownProfile("cook", twelveCaptions))
    const job = await insights.submit("alice", profile.id)

    let broke: Job | undefined
    for await (const state of insights.watch("alice", job.id, { signal: bound() })) {
      broke = state
      if (state.done === 2) break
    }
    expect(broke?.status).toBe("running")
    expect(broke?.done).toBe(2)

    const iterator = insights.watch("alice", job.id)[Symbol.asyncIterator]()
    expect((await iterator.next()).value?.done).toBe(2)
    expect(await iterator.return!()).toEqual({ done: true, value: undefined })

    const controller = new AbortController()
    const untilAborted: Array<Job> = []
    for await (const state of insights.watch("alice", job.id, { signal: controller.signal })) {
      untilAborted.push(state)
      controller.abort()
    }
    expect(untilAborted.map((s) => [s.status, s.done])).toEqual([["running", 2]])

    const reason = new Error("the page was closed")
    const gone = new AbortController()
    gone.abort(reason)
    expect(await rejection(insights.awaitJob("alice", job.id, { signal: gone.signal }))).toBe(
      reason
    )

    release()
    const done = await insights.awaitJob("alice", job.id, { signal: bound() })
    expect(done.status).toBe("succeeded")
    expect(done.progressLine).toBe("Progress: 100% (12/12 posts processed)")
  })

  it("rejects calls after close() with ClientClosed; close() is idempotent", async () => {
    const insights = await client(await storage.fresh())
    const { profile } = await insights.importProfile("alice", ownProfile("cook", twelveCaptions))
    const job = await insights.submit("alice", profile.id)
    await insights.close()
    await insights.close()

    for (const call of [
      insights.status("alice", job.id),
      insights.submit("alice", profile.id),
      insights.validate(),
      insights.metrics()
    ]) {
      const error = await rejection(call)
      expect(error).toBeInstanceOf(ClientClosed)
      expect((error as ClientClosed)._tag).toBe("ClientClosed")
    }
    const watched = await rejection((async () => {
      for await (const _ of insights.watch("alice", job.id)) break
    })())
    expect(watched).toBeInstanceOf(ClientClosed)
  })

  it("hands a running job back on close(); another client on the database finishes it", async () => {
    const choice = await storage.fresh()
    const { fake, analyzer, release } = await gatedAnalyzer(3)
    const first = await createClient({
      storage: choice,
      analyzer,
      runner: { pollInterval: "50 millis", postConcurrency: 1, repair: false }
    })
    open.push(first)
    const { profile } = await first.importProfile("alice", ownProfile("cook", twelveCaptions))
    const job = await first.submit("alice", profile.id)

    let held: Job | undefined
    for await (const state of first.watch("alice", job.id, { signal: bound() })) {
      if (state.done === 3) {
        held = state
        break
      }
    }
    expect(held?.status).toBe("running")
    await fake.awaitCalls(4)
    await first.close()

    const reader = await client(choice, { analyzer, runner: false })
    const handedBack = await reader.status("alice", job.id)
    expect(handedBack.status).toBe("queued")
    expect(handedBack.done).toBe(3)
    expect(handedBack.leaseHolder).toBeNull()
    await reader.close()

    release()
    const callsBefore = fake.calls().length
    const second = await client(choice, { analyzer })
    const done = await second.awaitJob("alice", job.id, { signal: bound() })
    expect(done.status).toBe("succeeded")
    expect(done.progressLine).toBe("Progress: 100% (12/12 posts processed)")
    // Only the 9 posts without an analysis were sent again.
    expect(fake.calls().length - callsBefore).toBe(9)
    const result = await second.insights("alice", profile.id)
    expect(result.posts).toEqual({ total: 12, analysed: 12, failed: 0 })
    expect(result.analyzerId).toBe("openai")
  })

  it("ends open watches on close() instead of leaving them hanging", async () => {
    const { analyzer, release } = await gatedAnalyzer(2)
    const insights = await createClient({
      storage: await storage.fresh(),
      analyzer,
      runner: { pollInterval: "50 millis", postConcurrency: 1, repair: false }
    })
    open.push(insights)
    const { profile } = await insights.importProfile("alice", ownProfile("cook", twelveCaptions))
    const job = await insights.submit("alice", profile.id)

    const seen: Array<Job> = []
    const watching = (async () => {
      for await (const state of insights.watch("alice", job.id, { intervalMillis: 20 })) {
        seen.push(state)
        if (state.done === 2) await insights.close()
      }
    })()
    const waited = await insights.awaitJob("alice", job.id).catch((e: unknown) => e)
    await watching
    release()

    const last = seen[seen.length - 1]!
    expect(last.done).toBe(2)
    expect(last.status).toBe("running")
    expect(waited).toBeInstanceOf(ClientClosed)
  })

  it("reports validation, repair, health and metrics after a run", async () => {
    const insights = await client(await storage.fresh())
    const before = counter(await insights.metrics(), "profile_insights_jobs_submitted_total")
    const { profile } = await insights.importProfile("alice", ownProfile("cook", twelveCaptions))
    const job = await insights.submit("alice", profile.id)
    const again = await insights.submit("alice", profile.id)
    expect(again.id).toBe(job.id)
    await insights.awaitJob("alice", job.id, { signal: bound() })

    const metrics = await insights.metrics()
    expect(metrics).toContain("# TYPE profile_insights_jobs_submitted_total counter")
    expect(counter(metrics, "profile_insights_jobs_submitted_total") - before).toBe(1)

    const report = await insights.validate()
    expect(report.profiles).toBe(1)
    expect(report.violations).toEqual([])

    const repaired = await insights.repair({ actor: "client-test" })
    expect(repaired.actor).toBe("client-test")
    expect(repaired.profiles).toBe(1)
    expect(repaired.violations).toEqual([])
    expect(repaired.changed).toBe(0)

    const health = await insights.health()
    expect(health.jobs).toMatchObject({ queued: 0, running: 0, succeeded: 1, failed: 0 })
    expect(health.stalled).toBe(0)
    expect(health.oldestQueued).toBeNull()
  })
})

describe("createClient", () => {
  it("rejects with StoreError when the database cannot be opened", async () => {
    const notADatabase = tempDatabase()
    writeFileSync(notADatabase, "this is a text file, not a SQLite database\n".repeat(100))
    const sqlite = await rejection(createClient({ storage: { sqlite: notADatabase } }))
    expect(sqlite).toBeInstanceOf(StoreError)
    expect((sqlite as StoreError)._tag).toBe("StoreError")

    const underAFile = await rejection(
      createClient({ storage: { sqlite: resolve(notADatabase, "inner.db") } })
    )
    expect(underAFile).toBeInstanceOf(StoreError)
    expect((underAFile as StoreError).operation).toBe("open")
  })

  it("rejects with StoreError when Postgres cannot be reached", async () => {
    const error = await rejection(
      createClient({ storage: { postgres: "postgres://postgres@127.0.0.1:1/none" } })
    )
    expect(error).toBeInstanceOf(StoreError)
  })

  it("reports a malformed PROFILE_INSIGHTS_OPENAI_* variable as InvalidInput", async () => {
    const name = "PROFILE_INSIGHTS_OPENAI_CONCURRENCY"
    const previous = process.env[name]
    process.env[name] = "several"
    try {
      const error = await rejection(
        createClient({ storage: { sqlite: tempDatabase() }, analyzer: "openai" })
      )
      expect(error).toBeInstanceOf(InvalidInput)
      expect(fields(error, "source", "field")).toEqual({ source: "environment", field: name })
    } finally {
      if (previous === undefined) delete process.env[name]
      else process.env[name] = previous
    }
  })

  it("fills the OpenAI options left unset with the documented defaults", () => {
    const options = openAiOptions({ model: "llama3.1:8b", apiKey: "sk-test", timeout: undefined })
    expect(options.model).toBe("llama3.1:8b")
    expect(options.baseUrl).toBe("https://api.openai.com/v1")
    expect(options.concurrency).toBe(4)
    expect(options.requestsPerMinute).toBe(60)
    expect(options.responseFormat).toBe("json_schema")
    expect(options.timeout).toEqual(Duration.seconds(30))
    expect(Redacted.value(options.apiKey!)).toBe("sk-test")
    expect(openAiOptions({}).apiKey).toBeUndefined()
  })

  it("logs to stderr at the level asked for, never to stdout", async () => {
    // Bundled, as the fault suite's workers are: node alone starts in well
    // under a second, where the tsx loader took several.
    // PROFILE_INSIGHTS_CLIENT_TSX=1 runs ClientMain.ts through tsx instead.
    const host = await Bundle.nodeArguments(
      "client-main",
      [{
        cache: "profile-insights-client",
        entries: { "client-main": resolve(root, "test/support/ClientMain.ts") },
        sources: ["src", "adapters", "client", "test/support"]
      }],
      "PROFILE_INSIGHTS_CLIENT_TSX"
    )
    const run = (logLevel: string) =>
      promisify(execFile)(
        process.execPath,
        [...host, JSON.stringify({ db: tempDatabase(), logLevel })],
        { cwd: root, timeout: 100_000 }
      )
    const [info, quiet] = await Promise.all([run("info"), run("warning")])
    expect(info.stdout).toBe("")
    expect(info.stderr).toContain("level=INFO")
    expect(info.stderr).toContain("message=\"job succeeded\"")
    expect(quiet.stdout).toBe("")
    expect(quiet.stderr).not.toContain("level=INFO")
  }, 120_000)
})
