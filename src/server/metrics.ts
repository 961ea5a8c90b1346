// Counters for the benchmark: Durable Object requests and SQLite rows, per isolate. Always
// counted (a few additions), shown only when RELAY_DEBUG_METRICS is "true" (see worker.ts). They
// hold no ids and no content.

export const metrics = {
  /** RPC calls into objects, by method. */
  rpc: { queueCall: 0, queueCreate: 0, sessionPush: 0, identity: 0, indexLookup: 0, indexClaim: 0, indexRelease: 0, statsAdd: 0, statsRead: 0 },
  /** WebSocket messages received by Session objects (billed at 1/20 of a request). */
  wsMessagesIn: 0,
  alarms: 0,
  rowsRead: 0,
  rowsWritten: 0,
  /** setAlarm calls (each is billed as one row written). */
  alarmWrites: 0,
};

export type Metrics = typeof metrics;

/** Runs a statement, reads all of its rows and counts what SQLite read and wrote. */
export function execCounted<T extends Record<string, SqlStorageValue>>(sql: SqlStorage, query: string, ...bindings: unknown[]): T[] {
  const cursor = sql.exec<T>(query, ...bindings);
  const rows = cursor.toArray();
  metrics.rowsRead += cursor.rowsRead;
  metrics.rowsWritten += cursor.rowsWritten;
  return rows;
}

export function snapshot(): Metrics {
  return structuredClone(metrics);
}
