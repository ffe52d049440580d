/**
 * The fake chat completions server as a process, for trying the analyzer
 * or the accuracy benchmark by hand:
 *
 *     npx tsx test/llm/fakeServerMain.ts
 *
 * prints its base URL (a free port on 127.0.0.1) and answers every request with the deterministic
 * "model" of FakeChatServer until stopped.
 */
import * as Fake from "../support/FakeChatServer.js"

const server = await Fake.start({ script: Fake.valid })
console.log(server.baseUrl)
const stop = () => void server.close().then(() => process.exit(0))
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
