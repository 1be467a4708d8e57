// The Grafana board in grafana/switchyard.json (issue 17) stays true to the server: every
// metric a panel's query names is one a real server's /metrics exports (histograms by their
// _bucket/_count/_sum series), and the board covers connections, rates, layer latency and
// errors, slow consumers and recovery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WebsocketConsumer, closeChannelLayers, configureChannelLayers } from 'switchyard';
import { serve } from 'switchyard/server';

interface Panel { id: number; title: string; datasource: { uid: string }; targets: Array<{ expr: string; refId: string }> }
const board = JSON.parse(readFileSync(new URL('../../grafana/switchyard.json', import.meta.url), 'utf8')) as { uid: string; panels: Panel[] };

/** The metric names of a PromQL expression: identifiers of our families, not functions, labels or ranges. */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/\b((?:switchyard|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

test('every metric a panel of the Grafana board queries is exported by the server', async () => {
  configureChannelLayers({ default: 'memory://' });
  class Echo extends WebsocketConsumer {}
  const server = await serve(Echo.asApp(), { host: '127.0.0.1', port: 0, logLevel: 'silent', metricsPath: '/metrics' });
  try {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const exported = (name: string): boolean => {
      if (types.has(name)) return true;
      const base = name.replace(/_(bucket|count|sum)$/, '');
      return base !== name && types.get(base) === 'histogram';
    };
    const missing: string[] = [];
    for (const panel of board.panels) {
      assert.ok(panel.targets.length > 0, `panel "${panel.title}" has a query`);
      assert.equal(panel.datasource.uid, '${datasource}', `panel "${panel.title}" uses the board's data source variable`);
      for (const { expr } of panel.targets) {
        const names = metricsOf(expr);
        assert.ok(names.length > 0, `"${panel.title}": ${expr} names a metric`);
        for (const name of names) if (!exported(name)) missing.push(`${panel.title}: ${name}`);
      }
    }
    assert.deepEqual(missing, [], 'metrics the board queries but the server does not export');
  } finally {
    await server.close();
    await closeChannelLayers();
  }
});

test('the board covers connections, message rates, layer latency, slow consumers and recovery, with unique panel ids', () => {
  const queried = new Set(board.panels.flatMap((p) => p.targets.flatMap((t) => metricsOf(t.expr))));
  for (const name of [
    'switchyard_ws_connections_open', 'switchyard_ws_messages_total', 'switchyard_layer_operation_seconds_bucket',
    'switchyard_slow_consumer_actions_total', 'switchyard_recovery_total', 'switchyard_ws_send_buffer_overflows_total',
    'switchyard_layer_errors_total',
  ]) assert.ok(queried.has(name), `a panel shows ${name}`);
  const ids = board.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(board.uid, 'switchyard');
});
