// Jest global setup: say up front which backends this run exercises and which it skips.
export default function reportBackends() {
  const mongo = process.env.MONGODB_URL ? `yes (${process.env.MONGODB_URL})` : 'skipped (MONGODB_URL not set)';
  const esdb = process.env.EVENTSTORE_URL ? `yes (${process.env.EVENTSTORE_URL})` : 'skipped (EVENTSTORE_URL not set)';
  console.log(`\nBackends under test: SQLite event store and read models: yes; MongoDB read models: ${mongo}; EventStoreDB contract: ${esdb}\n`);
}
