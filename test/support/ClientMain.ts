/**
 * A host process that uses only the promise client: it imports a profile,
 * runs its analysis to the end and closes. Argument: a JSON object with
 * `db` (a SQLite file) and `logLevel`. Writes nothing itself, so whatever
 * appears on its stdout or stderr came from the library.
 */
import { createClient } from "../../client/index.js"
import { ownProfile, twelveCaptions } from "./Fixtures.js"

const { db, logLevel } = JSON.parse(process.argv[2] ?? "{}") as {
  db: string
  logLevel: "none" | "error" | "warning" | "info" | "debug"
}
const client = await createClient({
  storage: { sqlite: db },
  runner: { pollInterval: "50 millis" },
  logLevel
})
const { profile } = await client.importProfile("host-user", ownProfile("logs", twelveCaptions))
const job = await client.submit("host-user", profile.id)
const done = await client.awaitJob("host-user", job.id)
await client.close()
process.exitCode = done.status === "succeeded" ? 0 : 1
