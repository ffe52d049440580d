/**
 * The progress page in a real browser, against each example server run as
 * a child process on a fresh SQLite file, with the OpenAI-compatible
 * analyzer pointed at a fake chat server that answers each post after a
 * delay, and can hold its answers after a given number of posts so the
 * job waits at a known point.
 *
 * A person picks a sample and starts the analysis, sees the progress
 * between 0% and 100%, goes to the about page and comes back: the page
 * shows the same job, still running where it stood, follows it to 100%
 * and shows the insights with both charts drawn; no second job was
 * started. A reload shows the same; another user is told the profile is
 * not found. A screenshot of the finished page is saved per server in
 * test-results/screenshots.
 *
 * Then the network between the browser and the server fails, through a
 * TCP proxy on 127.0.0.1 that can cut or refuse the connections carrying
 * an event stream: the page reconnects sending Last-Event-ID, and once
 * streaming keeps failing it polls the job until it ends.
 *
 * Chromium is Debian's (/usr/bin/chromium), driven by playwright-core.
 * Without it the suite is skipped with a notice, except under CI, where
 * it runs and fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { JobView } from "../../examples/server-kit/Contract.js"
import * as FakeChat from "../support/FakeChatServer.js"
import {
  availableServers,
  launchServer,
  type ServerName,
  type ServerProcess
} from "../support/ServerProcess.js"

const chromiumPath = "/usr/bin/chromium"
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

const haveChromium = existsSync(chromiumPath)
const required = Boolean(process.env.CI)
if (!haveChromium && !required) {
  console.warn(
    `\n*** CHROMIUM NOT FOUND at ${chromiumPath}: the browser tests of the ` +
      "progress page are SKIPPED. Install Debian's chromium package to run them. ***\n"
  )
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const screenshots = join(repoRoot, "test-results", "screenshots")
const token = "demo-alice"

interface Sample {
  readonly name: string
  readonly title: string
  readonly posts: number
}

const getJson = async <A>(url: string): Promise<A> => {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  expect(response.status, `GET ${url}`).toBe(200)
  return (await response.json()) as A
}

/** Checks `done` every 20 ms until it holds; fails naming `what` after `timeoutMillis`. */
const until = async (what: string, done: () => boolean, timeoutMillis: number) => {
  const deadline = Date.now() + timeoutMillis
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// ---------------------------------------------------------------------------
// In the page

// The DOM names the functions that run in the page use: the project is
// typed for Node, without the DOM library.
interface PageElement {
  readonly textContent: string | null
}
interface PageCanvas extends PageElement {
  readonly width: number
  readonly height: number
  getContext(kind: "2d"): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> }
  } | null
}
declare const document: {
  querySelector<E extends PageElement = PageElement>(selector: string): E | null
}

const midway = () => {
  const percent = Number.parseInt(
    document.querySelector("[data-testid=percent]")?.textContent ?? "",
    10
  )
  return percent > 0 && percent < 100
}

const finished = () => document.querySelector("[data-testid=percent]")?.textContent === "100%"

/** True once every chart canvas is laid out and has pixels drawn on it. */
const chartsDrawn = () =>
  ["sentiment-chart", "cadence-chart", "hour-chart"].every((id) => {
    const canvas = document.querySelector<PageCanvas>(`[data-testid="${id}"]`)
    if (canvas === null || canvas.width === 0 || canvas.height === 0) return false
    const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height)
    let painted = 0
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++
    return painted > 500
  })

const text = (page: Page, testId: string) => page.getByTestId(testId).textContent()

/** Picks the sample and presses Analyse; waits until progress is under way. */
const startAnalysis = async (page: Page, sample: Sample) => {
  await page.getByTestId(`sample-${sample.name}`).click({ timeout: 10_000 })
  await page.getByTestId("analyse").click()
  await page.waitForFunction(midway, null, { timeout: 20_000, polling: 20 })
  const jobId = await text(page, "job-id")
  const profileId = new URL(page.url()).searchParams.get("profile")
  expect(jobId).toMatch(/\S/)
  expect(profileId).toMatch(/\S/)
  return { jobId: jobId!, profileId: profileId! }
}

/** Waits for 100% and the insights with their charts; checks the values. */
const expectFinished = async (page: Page, sample: Sample, jobId: string) => {
  await page.waitForFunction(finished, null, { timeout: 30_000 })
  await page.getByTestId("insights").waitFor({ state: "visible", timeout: 10_000 })
  await page.waitForFunction(chartsDrawn, null, { timeout: 10_000 })
  expect(await text(page, "job-id")).toBe(jobId)
  expect(await text(page, "percent")).toBe("100%")
  expect(await text(page, "status")).toBe("succeeded")
  expect(await text(page, "processed")).toBe(`${sample.posts} of ${sample.posts} posts`)
  expect(await text(page, "posts-count")).toBe(String(sample.posts))
  expect(await text(page, "posts-analysed")).toBe(String(sample.posts))
}

// ---------------------------------------------------------------------------
// A proxy that can fail the event streams

interface SeenRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
}

interface StreamCuttingProxy {
  readonly url: string
  readonly requests: () => ReadonlyArray<SeenRequest>
  /** Destroys every connection now carrying an event stream; how many. */
  readonly cutStreams: () => number
  /** While on, a connection is destroyed as soon as it asks for an event stream. */
  readonly refuseStreams: (on: boolean) => void
  readonly close: () => Promise<void>
}

/** A request line and its header lines, up to the blank line. */
const requestHead = new RegExp(
  String.raw`(?:^|\r\n)(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP/1\.[01]\r\n` +
    String.raw`((?:[^\r\n]+\r\n)*)\r\n`,
  "g"
)

const parseRequests = (chunk: string): Array<SeenRequest> =>
  [...chunk.matchAll(requestHead)].map(([, method, path, head]) => ({
    method: method!,
    path: path!,
    headers: Object.fromEntries(
      head!.split("\r\n").filter((line) => line !== "").map((line) => {
        const colon = line.indexOf(":")
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]
      })
    )
  }))

const isStream = (request: SeenRequest) => /^\/api\/jobs\/[^/]+\/events$/.test(request.path)

/** A TCP proxy on 127.0.0.1 in front of `target`, reading each request's head. */
const startProxy = (target: string): Promise<StreamCuttingProxy> => {
  const { hostname, port } = new URL(target)
  const seen: Array<SeenRequest> = []
  const streaming = new Set<net.Socket>()
  const open = new Set<net.Socket>()
  let refuse = false
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname)
    open.add(client)
    const drop = () => {
      streaming.delete(client)
      open.delete(client)
      client.destroy()
      upstream.destroy()
    }
    client.on("error", drop).on("close", drop)
    upstream.on("error", drop).on("close", drop)
    client.on("data", (chunk: Buffer) => {
      for (const request of parseRequests(chunk.toString("latin1"))) {
        seen.push(request)
        if (!isStream(request)) {
          streaming.delete(client)
        } else if (refuse) {
          return drop()
        } else {
          streaming.add(client)
        }
      }
      upstream.write(chunk)
    })
    upstream.pipe(client)
  })
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      resolve({
        url: `http://127.0.0.1:${address.port}`,
        requests: () => seen,
        cutStreams: () => {
          const cut = [...streaming]
          for (const socket of cut) socket.destroy()
          return cut.length
        },
        refuseStreams: (on) => {
          refuse = on
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of open) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
}

// ---------------------------------------------------------------------------
// The suite

describe.skipIf(!haveChromium && !required)("the progress page in a browser", () => {
  let browser: Browser
  let fake: FakeChat.FakeChatServer
  const servers = availableServers()

  /**
   * How the fake model answers: each post after `millis`, and once
   * `holdAfter` answers are given, the next ones wait until `release`.
   * The analyzer sends one request at a time, so a held answer holds the
   * job at exactly `holdAfter` posts.
   */
  const pacing = {
    millis: 100,
    holdAfter: Number.POSITIVE_INFINITY,
    answered: 0,
    waiters: [] as Array<() => void>
  }
  const pace = (millis: number, holdAfter: number) => {
    pacing.millis = millis
    pacing.holdAfter = holdAfter
    pacing.answered = 0
  }
  const release = (holdAfter = Number.POSITIVE_INFINITY) => {
    pacing.holdAfter = holdAfter
    for (const wake of pacing.waiters.splice(0)) wake()
  }

  beforeAll(async () => {
    fake = await FakeChat.start({
      script: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, pacing.millis))
        while (pacing.answered >= pacing.holdAfter) {
          await new Promise<void>((wake) => pacing.waiters.push(wake))
        }
        pacing.answered++
        return FakeChat.valid(request)
      }
    })
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs
    })
    mkdirSync(screenshots, { recursive: true })
  })

  afterAll(async () => {
    release()
    await browser?.close()
    await fake?.close()
  })

  interface Run {
    readonly server: ServerProcess
    readonly page: Page
    /** The sample with the fewest posts. */
    readonly sample: Sample
  }

  /**
   * Runs `body` with the server on a fresh SQLite file, the analyzer
   * pointed at the fake model, and a new browser context; ends them all.
   * Page errors and console errors fail the test, less those `tolerate`
   * accepts.
   */
  const withServer = async (
    name: ServerName,
    body: (run: Run) => Promise<void>,
    tolerate: (message: string, url: string) => boolean = () => false
  ) => {
    const directory = mkdtempSync(join(tmpdir(), `profile-insights-browser-${name}-`))
    const server = await launchServer(name, {
      PROFILE_INSIGHTS_DB: join(directory, "insights.db"),
      PROFILE_INSIGHTS_ANALYZER: "openai",
      PROFILE_INSIGHTS_OPENAI_BASE_URL: fake.baseUrl,
      PROFILE_INSIGHTS_OPENAI_MODEL: "fake-model",
      PROFILE_INSIGHTS_OPENAI_CONCURRENCY: "1",
      PROFILE_INSIGHTS_OPENAI_REQUESTS_PER_MINUTE: "0",
      PROFILE_INSIGHTS_OPENAI_TOKENS_PER_MINUTE: "0"
    })
    const context: BrowserContext = await browser.newContext({
      viewport: { width: 1100, height: 900 },
      reducedMotion: "reduce"
    })
    try {
      const page = await context.newPage()
      const problems: Array<string> = []
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
      page.on("console", (message) => {
        if (message.type() !== "error") return
        if (!tolerate(message.text(), message.location().url)) {
          problems.push(`console: ${message.text()} (${message.location().url})`)
        }
      })
      const samples = await getJson<ReadonlyArray<Sample>>(`${server.url}/api/samples`)
      const sample = [...samples].sort((a, b) => a.posts - b.posts)[0]
      expect(sample?.posts).toBeGreaterThanOrEqual(8)
      await body({ server, page, sample: sample! })
      expect(problems).toEqual([])
    } catch (error) {
      console.error(
        `--- ${name} server output ---\n${server.stdout().slice(-4000)}\n` +
          `${server.stderr().slice(-4000)}`
      )
      throw error
    } finally {
      release()
      await context.close()
      server.kill("SIGKILL")
      await server.exited
      rmSync(directory, { recursive: true, force: true })
    }
  }

  /** The latest job of the profile, read from the API. */
  const latestJob = (server: ServerProcess, profileId: string) =>
    getJson<JobView>(`${server.url}/api/profiles/${profileId}/jobs/latest`)

  /** Waits until the page shows the job at exactly `processed` posts. */
  const showsProcessed = (page: Page, jobId: string, processed: number, total: number) =>
    page.waitForFunction(
      ({ jobId, expected }) =>
        document.querySelector("[data-testid=job-id]")?.textContent === jobId &&
        document.querySelector("[data-testid=processed]")?.textContent === expected,
      { jobId, expected: `${processed} of ${total} posts` },
      { timeout: 20_000, polling: 20 }
    )

  it("has example servers to run against", () => {
    expect(servers.length).toBeGreaterThan(0)
  })

  it.each(servers.map((name) => [name]))(
    "%s: progress survives leaving the page, and one job ends with the insights",
    (name: ServerName) =>
      withServer(name, async ({ server, page, sample }) => {
        // A post every 300 ms, held after the third: the job waits there
        // while the person is away.
        pace(300, 3)
        const percentAt3 = Math.floor(300 / sample.posts)
        const callsBefore = fake.calls().length

        await page.goto(`${server.url}/`)
        const { jobId, profileId } = await startAnalysis(page, sample)
        await showsProcessed(page, jobId, 3, sample.posts)
        expect(await text(page, "percent")).toBe(`${percentAt3}%`)
        expect(await page.getByTestId("progress").getAttribute("value"))
          .toBe(String(percentAt3))
        expect(await text(page, "status")).toBe("running")

        // Away to the about page and back by its link: the page shows the
        // running job where it is, and follows it again.
        await page.getByTestId("about-link").click()
        await page.getByTestId("about").waitFor({ timeout: 10_000 })
        expect(new URL(page.url()).pathname).toBe("/about.html")
        await page.getByTestId("back-link").click()
        await page.waitForURL((url) => url.searchParams.get("profile") === profileId, {
          timeout: 10_000
        })
        await showsProcessed(page, jobId, 3, sample.posts)
        expect(await text(page, "status")).toBe("running")
        expect(await text(page, "percent")).toBe(`${percentAt3}%`)
        expect(await text(page, "transport")).toBe("live")
        expect(await page.getByTestId("insights").isVisible()).toBe(false)

        release()
        await expectFinished(page, sample, jobId)
        await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true })

        // A reload shows the same finished job and starts nothing.
        await page.reload()
        await page.waitForFunction(
          (id) =>
            document.querySelector("[data-testid=job-id]")?.textContent === id &&
            document.querySelector("[data-testid=percent]")?.textContent === "100%",
          jobId,
          { timeout: 10_000 }
        )
        await expectFinished(page, sample, jobId)

        // Another user is not shown the job: the status line says why (the
        // browser logs the 404 too). The choice of user outlives a reload.
        await page.getByTestId("token").selectOption("demo-bob")
        await page.getByTestId("message").filter({ hasText: "Error 404 not_found" }).waitFor({
          timeout: 10_000
        })
        expect(await page.getByTestId("job").isVisible()).toBe(false)
        expect(await page.getByTestId("insights").isVisible()).toBe(false)
        await page.reload()
        await page.getByTestId("message").filter({ hasText: "Error 404 not_found" }).waitFor({
          timeout: 10_000
        })
        expect(await page.getByTestId("token").inputValue()).toBe("demo-bob")
        await page.getByTestId("token").selectOption("demo-alice")
        await expectFinished(page, sample, jobId)

        // One job, on its first attempt, and one model call per post.
        expect(await latestJob(server, profileId)).toMatchObject({
          id: jobId,
          profileId,
          status: "succeeded",
          attempt: 1,
          done: sample.posts,
          failed: 0,
          total: sample.posts,
          percent: 100
        })
        expect(fake.calls().length - callsBefore).toBe(sample.posts)
      }, (message, url) => url.endsWith("/jobs/latest") && message.includes("404")),
    120_000
  )

  it.each(servers.map((name) => [name]))(
    "%s: a cut stream resumes with Last-Event-ID; one that keeps failing gives way to polling",
    (name: ServerName) =>
      withServer(
        name,
        async ({ server, page, sample }) => {
          pace(100, 3)
          const proxy = await startProxy(server.url)
          try {
            const streams = () => proxy.requests().filter(isStream)
            await page.goto(`${proxy.url}/`)
            const { jobId, profileId } = await startAnalysis(page, sample)
            await showsProcessed(page, jobId, 3, sample.posts)
            expect(streams()).toHaveLength(1)
            expect(streams()[0]!.headers["last-event-id"]).toBeUndefined()

            // The stream is cut: the page reconnects with the last event's id.
            expect(proxy.cutStreams()).toBe(1)
            await until("a second event stream request", () => streams().length >= 2, 10_000)
            const resumed = streams()[1]!
            expect(resumed.path).toBe(`/api/jobs/${jobId}/events`)
            expect(resumed.headers["last-event-id"]).toBe(`running:3:0:${sample.posts}`)
            expect(resumed.headers.authorization).toBe(`Bearer ${token}`)
            // The resumed stream carries the job on.
            release(6)
            await showsProcessed(page, jobId, 6, sample.posts)
            expect(streams()).toHaveLength(2)

            // Streams fail from now on: the page polls the job instead.
            proxy.refuseStreams(true)
            expect(proxy.cutStreams()).toBe(1)
            await page.waitForFunction(
              () =>
                document.querySelector("[data-testid=transport]")?.textContent ===
                  "polling every 1 s",
              null,
              { timeout: 20_000 }
            )
            expect(await text(page, "processed")).toBe(`6 of ${sample.posts} posts`)
            const streamRequests = streams().length
            release()
            await expectFinished(page, sample, jobId)
            const polls = proxy.requests().filter((r) => r.path === `/api/jobs/${jobId}`)
            expect(polls.length).toBeGreaterThanOrEqual(1)
            expect(polls.every((r) => r.headers.authorization === `Bearer ${token}`)).toBe(true)
            expect(streams()).toHaveLength(streamRequests)

            expect(await latestJob(server, profileId)).toMatchObject({
              id: jobId,
              status: "succeeded",
              attempt: 1,
              total: sample.posts
            })
          } finally {
            await proxy.close()
          }
        },
        // A connection the proxy cut or refused is reported by the browser.
        (_message, url) => url.endsWith("/events")
      ),
    120_000
  )
})
