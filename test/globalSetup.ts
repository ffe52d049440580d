/**
 * Drops the Postgres databases the suites of this run created, once every
 * suite is done. Without a reachable server there is nothing to drop.
 */
import pg from "pg"

const admin = process.env.PROFILE_INSIGHTS_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/postgres"

const run = crypto.randomUUID().replaceAll("-", "").slice(0, 8)

/** Suites name their databases pi_test_<run>_...; workers inherit the run. */
export const setup = () => {
  process.env.PROFILE_INSIGHTS_TEST_RUN = run
}

export const teardown = async () => {
  const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
  } catch {
    return
  }
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE $1",
      [`pi\\_test\\_${run}\\_%`]
    )
    for (const { datname } of rows) {
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(datname)} WITH (FORCE)`)
    }
  } finally {
    await client.end()
  }
}
