/**
 * The four example servers as real processes on 127.0.0.1, each driven
 * through the HTTP contract of examples/server-kit/Contract.ts: storage on
 * a fresh SQLite file (and Postgres for the core run), the OpenAI-compatible
 * analyzer pointed at the fake chat server, which answers each post after
 * a delay so that a run lasts a couple of seconds and a client can go away
 * in the middle of it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { EventSourceParserStream } from "eventsource-parser/stream"
import pg from "pg"
import * as Fake from "../support/FakeChatServer.js"
import { ownProfile } from "../support/Fixtures.js"
import {
  launchServer,
  serverEntry,
  serverNames,
  type ServerName,
  type ServerProcess
} from "../support/ServerProcess.js"
import { freshPostgresDatabase, postgresAvailable, tempDatabase } from "../support/Storage.js"
import { existsSync } from "node:fs"
import * as http from "node:http"

/** How long the fake model takes per post. */
const delayMillis = 200
/** Posts of a run: eight rounds of four requests at a time, about 2 s. */
const postCount = 32
const bound = 30_000

const alice = "demo-alice"
const bob = "demo-bob"

// ---------------------------------------------------------------------------
// The fake model, shared by every server of the file

let chat: Fake.FakeChatServer

beforeAll(async () => {
  chat = await Fake.start({
    script: async (request) => {
      await new Promise((resolve) => setTimeout(resolve, delayMillis))
      return Fake.valid(request)
    }
  })
})

afterAll(() => chat?.close())

// ---------------------------------------------------------------------------
// Servers started by a test, killed after it

const started: Array<ServerProcess> = []

afterEach(async () => {
  for (const server of started.splice(0)) {
    if (server.hasExited()) continue
    server.kill("SIGKILL")
    await server.exited
  }
})

const serverEnv = (db: string): Record<string, string> => ({
  PROFILE_INSIGHTS_DB: db,
  PROFILE_INSIGHTS_ANALYZER: "openai",
  PROFILE_INSIGHTS_OPENAI_BASE_URL: chat.baseUrl,
  PROFILE_INSIGHTS_OPENAI_MODEL: "fake-model",
  PROFILE_INSIGHTS_OPENAI_CONCURRENCY: "4",
  PROFILE_INSIGHTS_OPENAI_REQUESTS_PER_MINUTE: "0",
  PROFILE_INSIGHTS_OPENAI_TOKENS_PER_MINUTE: "0"
})

const start = async (name: ServerName, db: string): Promise<ServerProcess> => {
  const server = await launchServer(name, serverEnv(db))
  started.push(server)
  return server
}

/**
 * Lines of the server's output that speak of an interruption or a broken
 * connection. None is expected: a client going away is normal.
 */
const troubleLines = (server: ServerProcess): ReadonlyArray<string> =>
  `${server.stdout()}\n${server.stderr()}`
    .split("\n")
    .filter((line) => /interrupt|ECONNRESET|EPIPE|aborted|Error/i.test(line))

// ---------------------------------------------------------------------------
// HTTP

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: any
}

const call = async (
  server: ServerProcess,
  method: string,
  path: string,
  options: {
    readonly token?: string | undefined
    readonly authorization?: string | undefined
    readonly json?: unknown
    readonly raw?: string | undefined
    readonly signal?: AbortSignal | undefined
  } = {}
): Promise<Answer> => {
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.authorization !== undefined) headers.authorization = options.authorization
  const body = options.raw ?? (options.json === undefined ? undefined : JSON.stringify(options.json))
  if (body !== undefined) headers["content-type"] = "application/json"
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    ...(options.signal === undefined ? {} : { signal: options.signal })
  })
  const text = await response.text()
  const contentType = response.headers.get("content-type") ?? ""
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // Left as text; the assertions say what was expected.
  }
  return { status: response.status, contentType, body: parsed }
}

/** Polls `probe` until `done` holds; fails with the last value seen. */
const waitFor = async <A>(
  what: string,
  probe: () => Promise<A>,
  done: (value: A) => boolean,
  timeoutMillis = bound
): Promise<A> => {
  const deadline = Date.now() + timeoutMillis
  let last: A | undefined
  for (;;) {
    last = await probe()
    if (done(last)) return last
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const fixture = (posts = postCount) => {
  const handle = `h${crypto.randomUUID().slice(0, 8)}`
  return ownProfile(
    handle,
    Array.from({ length: posts }, (_, i) =>
      i % 3 === 0 ? `${handle} sad day number ${i}` : `${handle} good food post ${i}`)
  )
}

const importProfile = async (
  server: ServerProcess,
  posts = postCount
): Promise<string> => {
  const answer = await call(server, "POST", "/api/profiles", {
    token: alice,
    json: fixture(posts)
  })
  expect(answer.status).toBe(201)
  expect(answer.body.posts).toEqual({ added: posts, changed: 0, removed: 0 })
  return answer.body.profileId as string
}

const submit = async (server: ServerProcess, profileId: string) => {
  const answer = await call(server, "POST", `/api/profiles/${profileId}/jobs`, {
    token: alice,
    json: {}
  })
  expect(answer.status).toBe(202)
  return answer.body as { id: string; status: string; total: number }
}

/**
 * POST /api/profiles/:id/jobs, aborted (AbortController) as soon as the
 * whole request is written, so the abort lands while the server handles
 * it: on 127.0.0.1 a submit is answered within a few tens of milliseconds.
 */
const submitAndGoAway = (server: ServerProcess, profileId: string) =>
  new Promise<string>((resolve) => {
    const controller = new AbortController()
    const request = http.request(`${server.url}/api/profiles/${profileId}/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
      signal: controller.signal
    })
    request.on("response", (response) => {
      response.resume()
      resolve(`answered ${response.statusCode} before the abort`)
    })
    request.on("error", (error) =>
      resolve(error.name === "AbortError" ? "aborted before the answer" : String(error)))
    request.end("{}", () => controller.abort())
  })

const isOver = (answer: Answer) =>
  answer.status !== 200 || !["queued", "running"].includes(answer.body.status)

/** The job once it is over (the caller asserts how it ended). */
const awaitEnd = async (server: ServerProcess, jobId: string) =>
  (await waitFor(
    `job ${jobId} to end`,
    () => call(server, "GET", `/api/jobs/${jobId}`, { token: alice }),
    isOver
  )).body

/** The aggregate covers every post of the fixture. */
const expectInsights = async (server: ServerProcess, profileId: string, posts = postCount) => {
  const answer = await call(server, "GET", `/api/profiles/${profileId}/insights`, {
    token: alice
  })
  expect(answer.status).toBe(200)
  expect(answer.body.profileId).toBe(profileId)
  expect(answer.body.posts).toEqual({ total: posts, analysed: posts, failed: 0 })
  expect(answer.body.watermark.analyses).toBe(posts)
}

const expectCompleted = (job: any, posts = postCount) => {
  expect(job).toMatchObject({
    status: "succeeded",
    done: posts,
    failed: 0,
    total: posts,
    processed: posts,
    percent: 100
  })
}

// ---------------------------------------------------------------------------
// Server-Sent Events

interface Event {
  readonly event: string | undefined
  readonly id: string | undefined
  readonly data: any
}

interface EventStream {
  readonly status: number
  readonly contentType: string
  readonly retries: ReadonlyArray<number>
  /** The next event, or undefined once the server ended the stream. */
  readonly next: () => Promise<Event | undefined>
  /** Closes the connection from the client's side. */
  readonly close: () => Promise<void>
}

const noEvent = "no event within the bound"

const openEvents = async (
  server: ServerProcess,
  jobId: string,
  options: { readonly token?: string; readonly lastEventId?: string } = {}
): Promise<EventStream> => {
  const controller = new AbortController()
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.token ?? alice}`,
    accept: "text/event-stream"
  }
  if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId
  const response = await fetch(`${server.url}/api/jobs/${jobId}/events`, {
    headers,
    signal: controller.signal
  })
  const retries: Array<number> = []
  const reader = response.body!
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(
      new EventSourceParserStream({ onRetry: (r) => retries.push(r), onError: "terminate" })
    )
    .getReader()
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    retries,
    next: async () => {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(noEvent)), bound)
      })
      try {
        const read = await Promise.race([reader.read(), timeout])
        if (read.done) return undefined
        return { event: read.value.event, id: read.value.id, data: JSON.parse(read.value.data) }
      } finally {
        clearTimeout(timer)
      }
    },
    close: async () => {
      controller.abort()
      await reader.cancel().catch(() => undefined)
    }
  }
}

/** Every event until the server ends the stream. */
const readAll = async (stream: EventStream): Promise<ReadonlyArray<Event>> => {
  const events: Array<Event> = []
  for (let event = await stream.next(); event !== undefined; event = await stream.next()) {
    events.push(event)
  }
  return events
}

const idOf = (job: any) => `${job.status}:${job.done}:${job.failed}:${job.total}`

// ---------------------------------------------------------------------------
// The job as stored, read straight from the database

interface StoredJob {
  readonly status: string
  readonly done: number
  readonly total: number
  readonly lease_holder: string | null
  readonly finished_at: unknown
}

const storedJob = async (db: string, jobId: string): Promise<StoredJob> => {
  const query = "SELECT status, done, total, lease_holder, finished_at FROM pi_jobs WHERE id = "
  if (db.startsWith("postgres")) {
    const client = new pg.Client({ connectionString: db })
    await client.connect()
    try {
      const { rows } = await client.query(`${query}$1`, [jobId])
      return { ...rows[0], done: Number(rows[0].done), total: Number(rows[0].total) }
    } finally {
      await client.end()
    }
  }
  const sqlite = new Database(db, { readonly: true })
  try {
    return sqlite.prepare(`${query}?`).get(jobId) as StoredJob
  } finally {
    sqlite.close()
  }
}

// ---------------------------------------------------------------------------

const storages = [
  { name: "sqlite", available: true, fresh: async () => tempDatabase() },
  { name: "postgres", available: postgresAvailable, fresh: freshPostgresDatabase }
] as const

describe.each(serverNames)("the %s server", (name) => {
  const present = existsSync(serverEntry(name))
  if (!present && process.env.CI) {
    it("exists", () => expect.fail(`${serverEntry(name)} is missing`))
  }
  if (!present) console.warn(`*** ${serverEntry(name)} does not exist: its tests are SKIPPED ***`)

  describe.each(storages)("on $name", (storage) => {
    it.skipIf(!present || !storage.available)(
      "finishes a run whose start request was aborted and whose event stream was closed early",
      async () => {
        const db = await storage.fresh()
        const server = await start(name, db)
        const profileId = await importProfile(server)

        const abort = await submitAndGoAway(server, profileId)
        expect(abort).toBe("aborted before the answer")

        const latest = await waitFor(
          "the submitted job",
          () => call(server, "GET", `/api/profiles/${profileId}/jobs/latest`, { token: alice }),
          (answer) => answer.status === 200
        )
        const jobId = latest.body.id as string

        const stream = await openEvents(server, jobId)
        expect(stream.status).toBe(200)
        const first = await stream.next()
        const second = await stream.next()
        await stream.close()
        expect(first?.data.id).toBe(jobId)
        expect(first?.event).toBe("progress")
        expect(second?.data.id).toBe(jobId)

        const done = await waitFor(
          "the job to reach 100%",
          () => call(server, "GET", `/api/profiles/${profileId}/jobs/latest`, { token: alice }),
          isOver
        )
        expect(done.body.id).toBe(jobId)
        expectCompleted(done.body)
        await expectInsights(server, profileId)
        expect(troubleLines(server)).toEqual([])
      }
    )
  })

  it.skipIf(!present)(
    "answers 100 status requests aborted at random moments and the job goes on",
    async () => {
      const server = await start(name, tempDatabase())
      const profileId = await importProfile(server)
      const job = await submit(server, profileId)
      await waitFor(
        "the job to run",
        () => call(server, "GET", `/api/jobs/${job.id}`, { token: alice }),
        (answer) => answer.body.status === "running"
      )

      const outcomes = { answered: 0, aborted: 0 }
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(Array.from({ length: 10 }, async () => {
          const controller = new AbortController()
          setTimeout(() => controller.abort(), Math.random() * 15)
          try {
            const answer = await call(server, "GET", `/api/jobs/${job.id}`, {
              token: alice,
              signal: controller.signal
            })
            expect(answer.status).toBe(200)
            expect(answer.body.id).toBe(job.id)
            outcomes.answered++
          } catch (error) {
            expect((error as Error).name).toBe("AbortError")
            outcomes.aborted++
          }
        }))
      }
      expect(outcomes.answered + outcomes.aborted).toBe(100)
      expect(outcomes.aborted).toBeGreaterThan(0)

      expectCompleted(await awaitEnd(server, job.id))
      await expectInsights(server, profileId)
      const after = await call(server, "GET", `/api/jobs/${job.id}`, { token: alice })
      expect(after.status).toBe(200)
      expect((await call(server, "GET", "/api/health")).status).toBe(200)
      expect(troubleLines(server)).toEqual([])
    }
  )

  it.skipIf(!present)(
    "answers another owner 404 on every job and insight route, and no token or an unknown one 401",
    async () => {
      const server = await start(name, tempDatabase())
      const profileId = await importProfile(server, 8)
      const job = await submit(server, profileId)
      expectCompleted(await awaitEnd(server, job.id), 8)

      const routes: ReadonlyArray<readonly [string, string]> = [
        ["GET", `/api/jobs/${job.id}`],
        ["GET", `/api/jobs/${job.id}/events`],
        ["POST", `/api/jobs/${job.id}/cancel`],
        ["GET", `/api/profiles/${profileId}/jobs/latest`],
        ["GET", `/api/profiles/${profileId}/insights`],
        ["POST", `/api/profiles/${profileId}/jobs`]
      ]
      for (const [method, path] of routes) {
        const json = method === "POST" ? {} : undefined
        const asBob = await call(server, method, path, { token: bob, json })
        expect({ route: `${method} ${path}`, status: asBob.status, body: asBob.body }).toEqual({
          route: `${method} ${path}`,
          status: 404,
          body: { error: "not_found", message: "not found" }
        })
        expect(asBob.contentType).toMatch(/^application\/json/)
      }

      const unauthorized = { error: "unauthorized", message: "missing or unknown bearer token" }
      for (const [method, path] of [...routes, ["POST", "/api/profiles"] as const]) {
        for (const authorization of [undefined, "Bearer demo-mallory", "Basic ZGVtby1hbGljZQ=="]) {
          const json = method === "POST" ? {} : undefined
          const answer = await call(server, method, path, { authorization, json })
          expect({ route: `${method} ${path}`, authorization, status: answer.status, body: answer.body })
            .toEqual({ route: `${method} ${path}`, authorization, status: 401, body: unauthorized })
        }
      }

      // Another spelling of an /api path a router may match (case,
      // percent-encoding, doubled slashes) is refused or not routed: it
      // never reaches a handler without an owner.
      for (const path of [
        `/API/jobs/${job.id}`,
        `/Api/profiles/${profileId}/insights`,
        `/%61pi/jobs/${job.id}`,
        `//api/jobs/${job.id}`,
        `/api//jobs/${job.id}`
      ]) {
        const answer = await call(server, "GET", path)
        const verdict = answer.status === 401
          ? "401"
          : answer.status === 404 && String(answer.body?.message).startsWith("no route")
          ? "no route"
          : `${answer.status} ${JSON.stringify(answer.body)}`
        expect({ path, verdict }).toEqual({ path, verdict: expect.stringMatching(/^(401|no route)$/) })
      }

      // Nothing bob did touched alice's job, and alice still reads it all.
      const mine = await call(server, "GET", `/api/jobs/${job.id}`, { token: alice })
      expectCompleted(mine.body, 8)
      await expectInsights(server, profileId, 8)
      const latest = await call(server, "GET", `/api/profiles/${profileId}/jobs/latest`, {
        token: alice
      })
      expect(latest.body.id).toBe(job.id)
      expect(troubleLines(server)).toEqual([])
    }
  )

  it.skipIf(!present)("answers bad bodies 400 with JSON naming the field", async () => {
    const server = await start(name, tempDatabase())

    const notJson = await call(server, "POST", "/api/profiles", {
      token: alice,
      raw: "{\"profile\": {"
    })
    expect(notJson.status).toBe(400)
    expect(notJson.contentType).toMatch(/^application\/json/)
    expect(notJson.body).toMatchObject({ error: "invalid_input", field: "", record: "body" })
    expect(notJson.body.message).toMatch(/^body: /)

    const profile = fixture(6)
    const badPost = profile.posts[3]!
    const badCaption = {
      ...profile,
      posts: profile.posts.map((post) => (post === badPost ? { ...post, caption: 42 } : post))
    }
    const bad = await call(server, "POST", "/api/profiles", { token: alice, json: badCaption })
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({ error: "invalid_input", field: "caption" })
    expect(bad.body.record).toContain(`posts[3]`)
    expect(bad.body.record).toContain(badPost.platformPostId)

    const unknown = await call(server, "POST", "/api/profiles", {
      token: alice,
      json: { hello: "world" }
    })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toBe("unknown_format")

    const profileId = await importProfile(server, 6)
    const jobs = `/api/profiles/${profileId}/jobs`
    const priority = await call(server, "POST", jobs, { token: alice, json: { priority: "high" } })
    expect(priority.status).toBe(400)
    expect(priority.body).toMatchObject({ error: "invalid_input", field: "priority" })

    const withProto = await call(server, "POST", "/api/profiles", {
      token: alice,
      raw: JSON.stringify(fixture(2)).replace("{", "{\"__proto__\":{\"x\":1},")
    })
    expect(withProto.status).toBe(201)

    const garbled = await call(server, "POST", jobs, { token: alice, raw: "priority=high" })
    expect(garbled.status).toBe(400)
    expect(garbled.body).toMatchObject({ error: "invalid_input", record: "body" })

    // No body at all is the same answer on every server.
    const empty = await call(server, "POST", "/api/profiles", { token: alice, raw: "" })
    expect({ status: empty.status, body: empty.body }).toEqual({
      status: 400,
      body: expect.objectContaining({ error: "invalid_input", record: "body" })
    })
    // A path that is not valid percent-encoding is no route, never a 500.
    const garbledPath = await call(server, "GET", "/api/jobs/%zz", { token: alice })
    expect({ status: garbledPath.status, error: garbledPath.body?.error }).toEqual({
      status: 404,
      error: "not_found"
    })

    // A refused submit records no job.
    const latest = await call(server, "GET", `${jobs}/latest`, { token: alice })
    expect(latest.status).toBe(404)
    expect(troubleLines(server)).toEqual([])
  })

  it.skipIf(!present)(
    "streams progress as events up to `end`, and a reconnect does not repeat the last one seen",
    async () => {
      const server = await start(name, tempDatabase())
      const profileId = await importProfile(server)
      const job = await submit(server, profileId)

      const before = await openEvents(server, job.id)
      expect(before.status).toBe(200)
      expect(before.contentType).toMatch(/^text\/event-stream/)
      const early = [await before.next(), await before.next()]
      await before.close()
      const lastSeen = early[1]!.id!
      expect(early[1]!.event).toBe("progress")

      const after = await openEvents(server, job.id, { lastEventId: lastSeen })
      const rest = await readAll(after)
      expect(rest.length).toBeGreaterThan(0)
      expect(rest[0]!.id).not.toBe(lastSeen)
      expect(after.retries).toContain(2000)

      const events = [...early as Array<Event>, ...rest]
      for (const event of events) {
        expect(event.data.id).toBe(job.id)
        expect(event.id).toBe(idOf(event.data))
      }
      expect(events.slice(0, -1).map((e) => e.event)).toEqual(
        events.slice(0, -1).map(() => "progress")
      )
      const percents = events.map((e) => e.data.percent as number)
      expect(percents).toEqual([...percents].sort((a, b) => a - b))
      const last = events.at(-1)!
      expect(last.event).toBe("end")
      expectCompleted(last.data)

      // Once the job is over: the end again without Last-Event-ID, nothing with it.
      const again = await openEvents(server, job.id)
      expect((await readAll(again)).map((e) => [e.event, e.id])).toEqual([["end", last.id]])
      const resumed = await openEvents(server, job.id, { lastEventId: last.id! })
      expect(await readAll(resumed)).toEqual([])
      expect(troubleLines(server)).toEqual([])
    }
  )

  /** A server on a fresh SQLite file with a job part done: 4 posts or more, not all. */
  const partDone = async () => {
    const db = tempDatabase()
    const server = await start(name, db)
    const profileId = await importProfile(server)
    const job = await submit(server, profileId)
    const midRun = await waitFor(
      "the job to be part done",
      () => call(server, "GET", `/api/jobs/${job.id}`, { token: alice }),
      (answer) => isOver(answer) || answer.body.done >= 4
    )
    expect(midRun.body.status).toBe("running")
    expect(midRun.body.done).toBeLessThan(postCount)
    return { db, server, profileId, jobId: job.id }
  }

  /** SIGTERM; the exit within a bound, and the job as stored then. */
  const terminate = async (server: ServerProcess, db: string, jobId: string) => {
    expect(server.kill("SIGTERM")).toBe(true)
    const exit = await Promise.race([
      server.exited,
      new Promise((resolve) => setTimeout(() => resolve("still running after 15 s"), 15_000))
    ])
    expect(exit).toEqual({ code: 0, signal: null })
    const handedBack = await storedJob(db, jobId)
    expect(handedBack).toMatchObject({ status: "queued", lease_holder: null, finished_at: null })
    expect(handedBack.done).toBeGreaterThanOrEqual(4)
    expect(handedBack.done).toBeLessThan(postCount)
  }

  it.skipIf(!present)(
    "exits 0 on SIGTERM mid-run, hands the job back, and finishes it once started again",
    async () => {
      const { db, server, profileId, jobId } = await partDone()
      await terminate(server, db, jobId)

      const again = await start(name, db)
      expectCompleted(await awaitEnd(again, jobId))
      await expectInsights(again, profileId)
      expect(troubleLines(again)).toEqual([])
    }
  )

  it.skipIf(!present)(
    "ends an open event stream on SIGTERM, exits 0 and hands the job back",
    async () => {
      const { db, server, jobId } = await partDone()
      const watching = await openEvents(server, jobId)
      expect((await watching.next())?.event).toBe("progress")

      const rest = readAll(watching).then(
        (events) => events.map((e) => e.event),
        (error: Error) => error.message
      )
      await terminate(server, db, jobId)
      // Ended by the server without an `end`: the job is not over.
      expect(await rest).not.toContain("end")
      expect(await rest).not.toBe(noEvent)
    }
  )
})
