// A client that is not ours: Debian's python3-websockets joins the chat example's
// room over the real server, next to a Node client, and they talk.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { application } from '../../examples/chat/app.js';
import { start, type TestServer } from './helpers.js';

describe('Python client against the chat example', () => {
  let server: TestServer | undefined;
  after(async () => { await server?.close({ timeout: 1 }); });

  test('python3-websockets connects, sends, and receives its own and a Node member\'s messages', async () => {
    server = await start(application);
    const url = `ws://127.0.0.1:${server.port}/ws/chat/interop/`;
    const node = new WebSocket(url);
    const nodeFrames: Array<Record<string, unknown>> = [];
    node.on('message', (data: Buffer) => nodeFrames.push(JSON.parse(data.toString()) as Record<string, unknown>));
    await new Promise((resolve, reject) => { node.once('open', resolve); node.once('error', reject); });

    const python = spawn('/usr/bin/python3', ['test/server/python_client.py', url, 'snake'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const steps: Array<Record<string, unknown>> = [];
    let stderr = '';
    python.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    let pending = '';
    python.stdout.on('data', (c: Buffer) => {
      pending += c.toString();
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        steps.push(JSON.parse(pending.slice(0, nl)) as Record<string, unknown>);
        pending = pending.slice(nl + 1);
        // Once Python has seen its own line, the Node member answers in the room.
        if (steps.at(-1)!.step === 'own') node.send(JSON.stringify({ message: 'hi snake', username: 'node' }));
      }
    });
    const [code] = await new Promise<[number | null]>((resolve) => python.once('exit', (c) => resolve([c])));
    node.close();
    try {
      assert.equal(code, 0, stderr);
      assert.deepEqual(steps.map((s) => s.step), ['greeting', 'own', 'other', 'closed']);
      assert.equal((steps[0]!.data as { type: string }).type, 'connection_established');
      assert.deepEqual(steps[1]!.data, { message: 'hello from snake', username: 'snake' });
      assert.deepEqual(steps[2]!.data, { message: 'hi snake', username: 'node' });
      assert.equal(steps[3]!.code, 1000);
      assert.ok(nodeFrames.some((f) => f.message === 'hello from snake' && f.username === 'snake'), 'the Node member saw the Python line');
    } finally {
      python.kill();
    }
  });
});
