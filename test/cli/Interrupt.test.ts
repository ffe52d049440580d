/**
 * SIGINT to the profile-insights command, run from source the two ways a
 * developer runs it (`node --import tsx`, and the tsx binary, which runs
 * the program in a child process of its own): analyze and worker, each
 * stopped while its job waits on the analyzer, exit 130 having handed
 * the job back. Real child processes; the analyzer is a fake
 * OpenAI-compatible server that never answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { resolve } from "node:path"
import { root, type Started, startCli } from "../support/Cli.js"
import * as Fake from "../support/FakeChatServer.js"
import { tempDatabase } from "../support/Storage.js"

let chat: Fake.FakeChatServer

beforeAll(async () => {
  chat = await Fake.start({ script: () => ({ kind: "hang" }) })
})

afterAll(() => chat?.close())

const env = () => ({
  PROFILE_INSIGHTS_OPENAI_BASE_URL: chat.baseUrl,
  PROFILE_INSIGHTS_OPENAI_MODEL: "fake-model",
  PROFILE_INSIGHTS_OPENAI_REQUESTS_PER_MINUTE: "0",
  PROFILE_INSIGHTS_OPENAI_TOKENS_PER_MINUTE: "0"
})

const jobsIn = (db: string) => {
  const sqlite = new Database(db, { readonly: true })
  try {
    return sqlite.prepare("SELECT status, lease_holder AS leaseHolder FROM pi_jobs").all()
  } finally {
    sqlite.close()
  }
}

/** Sends SIGINT once the command's job has asked the analyzer; its exit code. */
const interruptWhileAnalysing = async (run: Started) => {
  await Promise.race([
    chat.awaitCalls(chat.calls().length + 1),
    run.exited.then((code) => {
      throw new Error(`exited ${code} before analysing:\n${run.stderr()}`)
    })
  ])
  run.signal("SIGINT")
  const timer = setTimeout(() => run.signal("SIGKILL"), 15_000)
  const code = await run.exited
  clearTimeout(timer)
  return code
}

describe.each(["node", "tsx"] as const)("SIGINT under %s", (launcher) => {
  it("analyze, then worker, exit 130 and hand the job back", async () => {
    const db = tempDatabase()
    const sample = resolve(root, "examples/data/sample-profile.json")
    const analyze = startCli(
      launcher,
      ["analyze", sample, "--db", db, "--analyzer", "openai"],
      env()
    )
    expect(await interruptWhileAnalysing(analyze)).toBe(130)
    expect(jobsIn(db)).toEqual([{ status: "queued", leaseHolder: null }])

    const worker = startCli(launcher, ["worker", "--db", db, "--analyzer", "openai"], env())
    expect(await interruptWhileAnalysing(worker)).toBe(130)
    expect(jobsIn(db)).toEqual([{ status: "queued", leaseHolder: null }])
    expect(worker.stderr()).toContain("job handed back")
  }, 90_000)
})
